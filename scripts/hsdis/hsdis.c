/*
 * A minimal HotSpot disassembler plugin (hsdis) for x86-64 on Capstone, for reading the machine code
 * HotSpot's JIT makes of Visor's translated regions and of Hart.execute (-XX:+PrintAssembly). Not
 * part of Visor: a tuning aid, built by build.sh next to it. HotSpot calls decode_instructions_virtual
 * for each range of code; we report each instruction's start and end (the "insn" and "/insn"
 * events, so HotSpot can interleave its comments) and print its text.
 */
#include <stdint.h>
#include <capstone/capstone.h>

typedef void *(*event_callback_t)(void *stream, const char *event, void *arg);
typedef int (*printf_callback_t)(void *stream, const char *format, ...);

void *decode_instructions_virtual(uintptr_t start_va, uintptr_t end_va, unsigned char *buffer, uintptr_t length,
                                  event_callback_t event, void *event_stream,
                                  printf_callback_t print, void *print_stream,
                                  const char *options, int newline) {
    (void) options;
    csh handle;
    cs_insn *insn;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return NULL;
    size_t count = cs_disasm(handle, buffer, length, start_va, 0, &insn);
    for (size_t i = 0; i < count; i++) {
        event(event_stream, "insn", (void *) (uintptr_t) insn[i].address);
        print(print_stream, "%s\t%s", insn[i].mnemonic, insn[i].op_str);
        event(event_stream, "/insn", (void *) (uintptr_t) (insn[i].address + insn[i].size));
        if (newline) print(print_stream, "\n");
    }
    if (count) cs_free(insn, count);
    cs_close(&handle);
    return (void *) end_va;
}
