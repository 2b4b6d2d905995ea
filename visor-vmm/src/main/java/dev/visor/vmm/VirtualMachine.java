package dev.visor.vmm;

import java.io.OutputStream;

/**
 * One running VM in this process. Built from a {@link VmSpec}; its serial console writes to the
 * given stream and takes input through {@link #consoleInput}.
 *
 * <pre>
 *   VirtualMachine vm = VirtualMachine.build(spec, System.out);   // VmConfigException on bad input
 *   vm.start();
 *   vm.consoleInput(bytes, 0, n);                                  // from any thread
 *   int status = vm.awaitExit();   // 0 after a guest poweroff; HTIF exit code for bare-metal tests
 *   vm.stop();                     // from any thread: ends the VM, awaitExit returns
 * </pre>
 */
public final class VirtualMachine {
    // Implementation in progress (see the boot issue): this file defines the contract the CLI uses.
    private VirtualMachine() {}

    public static VirtualMachine build(VmSpec spec, OutputStream console) throws VmConfigException {
        throw new VmConfigException("not implemented yet");
    }

    public void start() {}

    public void consoleInput(byte[] data, int off, int len) {}

    public int awaitExit() throws InterruptedException { return 0; }

    public void stop() {}
}
