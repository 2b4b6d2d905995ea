/**
 * Layer-2 network backends that join a guest NIC to other Ethernets: a learning switch that VMs in
 * separate processes share over a Unix domain socket ({@link dev.visor.net.l2.SwitchServer},
 * {@link dev.visor.net.l2.SwitchPort}), and a host tap device for bridging into host networks
 * ({@link dev.visor.net.l2.TapBackend}).
 *
 * <p>Switch wire format, the same in both directions on the stream socket:
 * <pre>
 *   +--------------------+-----------------------------------------+
 *   | length (4 bytes BE) | Ethernet frame: dst MAC, src MAC, type... |   length in [14, 65550]
 *   +--------------------+-----------------------------------------+
 * </pre>
 */
package dev.visor.net.l2;
