package dev.visor.engine.riscv;

import java.lang.classfile.ClassFile;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.classfile.Opcode;
import java.lang.classfile.TypeKind;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;

/**
 * Translates guest code into a hidden JVM class whose {@code run} method does the code's work on the
 * guest registers in x[], so HotSpot's JIT compiles guest code into host code (the role QEMU's TCG
 * plays).
 *
 * <h2>Regions</h2>
 * What is translated is a <em>region</em>: starting at the entry (a hot jump target), decoding runs on
 * straight until a jump, before an instruction the interpreter keeps (SYSTEM but the hot CSRs, F/D,
 * fence.i, anything unusual), before a 32-bit instruction that crosses the page end, or at code
 * already decoded; and the targets of conditional branches and jal that lie in the same page are
 * decoded the same way, up to {@link #MAX_REGION} instructions. Branches and jal between the region's
 * own instructions become jumps inside the method, so the guest's loops and if/else run in one
 * compiled method with its registers in host registers; only jumps out of the region (and every jalr)
 * leave. Exits with a static target (a jal or branch out of the region, and optionally auipc +
 * jalr, Linux's far call) are chained to the successor's block (see {@link Block#exits}); optionally
 * a call's return to its return site is chained too, so a guest call and return cost a JVM call and
 * return (see {@link #staticJalr}). A backward jump inside leaves for the dispatcher instead once
 * {@link #LOOP_LIMIT} instructions ran, so a guest loop cannot keep interrupts out. (With
 * {@code regions} off, a straight block alone: tests use that.)
 *
 * <h2>The generated method</h2>
 * <pre>
 *   load the hart's data TLB arrays and data context into locals
 *   n = 0   // instructions retired before the current straight run began
 *   try {
 *     for each instruction, in address order: read its registers from x[], store its result to
 *       x[] at once; loads and stores call Hart.tlbLoadNN/tlbStoreNN with the TLB's locals,
 *       atomics Atomics.apply (each may throw the hart's Trap), after noting the instruction's
 *       index and its place in the straight run in an int local
 *     internal jump: n += the run's length; goto the target's label
 *     exit: h.blockExecuted += n + the run's length; return the next pc (or call the linked
 *       successor: see Block.exits)
 *   } catch (Trap t) { note the faulting instruction and how many ran before it; throw t; }
 * </pre>
 * Because every instruction stores its result to x[] as it completes, x[] always holds the state
 * after the last completed instruction, as precise as the interpreter's, and an exit or a trap has
 * nothing to write back.
 *
 * <p>Why registers live in x[] and not in JVM locals. HotSpot forwards a value stored to x[] to a
 * later read on the same path and keeps it in a host register, so straight code loses little; but no
 * value lives across the whole method. With the registers in locals (up to stop 12), every register
 * a region wrote was live at every exit and at every call that may throw (for the write-back), and
 * C2 spent its time allocating host registers for them. Measured on the disk-read workload: C2's
 * average compile of a region fell from 53 to 47 ms and its code from 19 to 14 KB, and the shell
 * loop, sha256 and gzip of bench/boot-vs-qemu ran 11 to 14 % faster.
 */
final class BlockTranslator {
    /** Instructions in one straight-line block (and the least room the dispatcher leaves a block to run in). */
    static final int MAX_INSTRUCTIONS = 64;
    /** Translate regions (the default) rather than single blocks: -Dvisor.regions=false for comparisons. */
    static final boolean REGIONS = !"false".equals(System.getProperty("visor.regions"));
    /** Instructions one region may hold. */
    static final int MAX_REGION = 256;
    /** A region class bigger than this is made again with fewer instructions: HotSpot compiles no method over 8000 bytecode bytes. */
    private static final int MAX_CLASS_BYTES = 7500;
    /*
     * Far calls, off by default (-Dvisor.staticJalr=true -Dvisor.callReturns=true): they cut the
     * dispatcher's entries on the disk-read workload by three quarters and made its read passes 5 to
     * 8 % faster, but the boot took 6 % longer (more for C2 to compile while it runs); see the README.
     * Not final, so that tests can switch them on.
     */
    /** auipc + jalr exits are chained as static targets (else every jalr goes through the dispatcher). */
    static boolean staticJalr = Boolean.getBoolean("visor.staticJalr");
    /** Calls (jal, and jalr when static) whose callee returns to the return site go on there chained. */
    static boolean callReturns = Boolean.getBoolean("visor.callReturns");
    /** Instructions a region runs before a backward jump inside it leaves for the dispatcher, so loops let interrupts in. */
    static final int LOOP_LIMIT = 1024;

    private static final ClassDesc CD_BLOCK = ClassDesc.of(Block.class.getName());
    private static final ClassDesc CD_HART = ClassDesc.of(Hart.class.getName());
    private static final ClassDesc CD_SEGMENT = ClassDesc.of(java.lang.foreign.MemorySegment.class.getName());
    private static final ClassDesc CD_TRAP = ClassDesc.of(Trap.class.getName());
    private static final ClassDesc CD_OPS = ClassDesc.of(BlockOps.class.getName());
    private static final ClassDesc CD_ATOMICS = ClassDesc.of(Atomics.class.getName());
    private static final ClassDesc CD_PRIVILEGED = ClassDesc.of(Privileged.class.getName());
    private static final MethodTypeDesc RUN = MethodTypeDesc.of(ConstantDescs.CD_long, CD_HART,
            ConstantDescs.CD_long.arrayType(), ConstantDescs.CD_long);
    private static final MethodTypeDesc REGION_LOAD = MethodTypeDesc.of(ConstantDescs.CD_long, ConstantDescs.CD_long,
            ConstantDescs.CD_long.arrayType(), ConstantDescs.CD_long.arrayType(), ConstantDescs.CD_long, CD_HART);
    private static final MethodTypeDesc REGION_STORE = MethodTypeDesc.of(ConstantDescs.CD_void, ConstantDescs.CD_long,
            ConstantDescs.CD_long, ConstantDescs.CD_long.arrayType(), ConstantDescs.CD_long.arrayType(), ConstantDescs.CD_long, CD_HART);
    private static final MethodTypeDesc JJ_J = MethodTypeDesc.of(ConstantDescs.CD_long, ConstantDescs.CD_long, ConstantDescs.CD_long);
    private static final MethodTypeDesc IJJ_J = MethodTypeDesc.of(ConstantDescs.CD_long, ConstantDescs.CD_int,
            ConstantDescs.CD_long, ConstantDescs.CD_long);
    private static final MethodTypeDesc IJJ_I = MethodTypeDesc.of(ConstantDescs.CD_int, ConstantDescs.CD_int,
            ConstantDescs.CD_int, ConstantDescs.CD_int);

    private static final MethodHandles.Lookup LOOKUP = MethodHandles.lookup();
    private static final java.util.concurrent.atomic.AtomicLong SERIAL = new java.util.concurrent.atomic.AtomicLong();

    private BlockTranslator() {}

    /** One decoded instruction of a block. */
    private record Insn(int word, int len, int offset) {}

    /**
     * Translates the code entered at guest-RAM offset {@code ramOffset} into a region, or returns null
     * when its first instruction is one the interpreter keeps.
     */
    static Block translate(MemorySegment guestRam, long ramSize, long ramBase, long ramOffset) {
        return translate(guestRam, ramSize, ramBase, ramOffset, REGIONS);
    }

    /**
     * Translates the code entered at guest-RAM offset {@code ramOffset}: a region of its page when
     * {@code regions}, else one straight-line block (tests use this to check the building block alone).
     */
    static Block translate(MemorySegment guestRam, long ramSize, long ramBase, long ramOffset, boolean regions) {
        int entry = (int) ((ramBase + ramOffset) & 0xfff);
        // The epoch before the bytes are read: a fence.i after this makes the block check them again.
        int epoch = Block.codeEpoch;
        // Decode from a snapshot of the page, and keep the same bytes for matches(): the guest (another
        // hart, or this one while translation runs in the background) may be rewriting this code meanwhile.
        long pageStart = ramOffset - entry;
        int pageLength = (int) Math.min(0x1000, ramSize - pageStart);
        byte[] page = new byte[pageLength];
        MemorySegment.copy(guestRam, java.lang.foreign.ValueLayout.JAVA_BYTE, pageStart, page, 0, pageLength);
        MemorySegment code = MemorySegment.ofArray(page);
        int limit = regions ? MAX_REGION : MAX_INSTRUCTIONS;
        while (true) {
            java.util.List<Insn> insns = decode(code, pageLength, entry, limit, regions);
            if (insns.isEmpty()) return null;
            int[] exitCount = new int[1];
            byte[] bytes = generate(insns, entry, regions, exitCount);
            if (bytes.length > MAX_CLASS_BYTES && limit > 8) {
                limit /= 2; // HotSpot would never compile the method: a smaller region
                continue;
            }
            Block b;
            try {
                Class<?> c = LOOKUP.defineHiddenClass(bytes, true).lookupClass();
                b = (Block) c.getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("block translation produced an unusable class", e);
            }
            // the bytes checked by matches(): from the lowest instruction to the end of the highest
            Insn first = insns.get(0), last = insns.get(insns.size() - 1);
            int from = entry + first.offset(), to = entry + last.offset() + last.len();
            int byteLength = to - from;
            int fullWords = byteLength / 8, tailBytes = byteLength & 7;
            long[] words = new long[(byteLength + 7) / 8];
            for (int i = 0; i < fullWords; i++) words[i] = code.get(Hart.LONG, from + 8L * i);
            for (int k = 0; k < tailBytes; k++) {
                words[fullWords] |= (page[from + 8 * fullWords + k] & 0xffL) << (8 * k);
            }
            b.physAddr = ramBase + ramOffset;
            b.ramOffset = ramOffset;
            b.codeStart = pageStart + from;
            b.words = words;
            b.lastMask = tailBytes == 0 ? -1L : (1L << (8 * tailBytes)) - 1;
            b.fullWords = fullWords;
            b.tailBytes = tailBytes;
            b.count = insns.size();
            b.checkedEpoch = epoch;
            b.exits = new Block[exitCount[0]];
            b.offsets = new short[insns.size()];
            for (int i = 0; i < insns.size(); i++) b.offsets[i] = (short) insns.get(i).offset();
            return b;
        }
    }

    /**
     * The instructions of the block or region entered at page offset {@code entry}, in address order.
     * A straight run of decoding stops at a jump, before an instruction the interpreter keeps, before
     * a 32-bit instruction that crosses the page end, at code already decoded, and at {@code limit}
     * instructions in all. With {@code regions}, the in-page targets of conditional branches and jal
     * are decoded too (a target inside an instruction decoded earlier is left as an exit).
     */
    private static java.util.List<Insn> decode(MemorySegment code, int pageLength, int entry, int limit, boolean regions) {
        java.util.TreeMap<Integer, Insn> found = new java.util.TreeMap<>();
        boolean[] covered = new boolean[0x1000];
        java.util.ArrayDeque<Integer> work = new java.util.ArrayDeque<>();
        work.add(entry);
        while (!work.isEmpty() && found.size() < limit) {
            int p = work.poll();
            while (found.size() < limit && p + 2 <= pageLength && !covered[p]) {
                int raw = code.get(Hart.SHORT, p) & 0xffff;
                int word, len;
                if ((raw & 3) != 3) {
                    word = Rvc.EXPAND[raw];
                    len = 2;
                    if (word == 0) break;
                } else {
                    if (p + 4 > pageLength || covered[p + 2]) break; // crosses the page end (left to the interpreter) or other code
                    word = code.get(Hart.INT, p);
                    len = 4;
                }
                int kind = classify(word);
                if (kind == STOP) break;
                found.put(p, new Insn(word, len, p - entry));
                for (int k = 0; k < len; k++) covered[p + k] = true;
                int op = word & 0x7f;
                if (regions && (op == 0x63 || op == 0x6f)) {
                    long t = p + (op == 0x63 ? Hart.bImm(word) : Hart.jImm(word));
                    if (t >= 0 && t < pageLength) work.add((int) t);
                }
                if (kind == EXIT) break;
                p += len;
            }
        }
        return new java.util.ArrayList<>(found.values());
    }

    private static final int STOP = 0, BODY = 1, EXIT = 2;

    /** Whether the translator handles an instruction, and whether it ends the block. */
    static int classify(int w) {
        int f3 = (w >>> 12) & 7, f7 = w >>> 25;
        switch (w & 0x7f) {
            case 0x37, 0x17: return BODY;
            case 0x13: {
                if (f3 == 1) return (w >>> 26) == 0 ? BODY : STOP;
                if (f3 == 5) return (w >>> 26) == 0 || (w >>> 26) == 0x10 ? BODY : STOP;
                return BODY;
            }
            case 0x1b: {
                if (f3 == 0) return BODY;
                if (f3 == 1) return f7 == 0 ? BODY : STOP;
                if (f3 == 5) return f7 == 0 || f7 == 0x20 ? BODY : STOP;
                return STOP;
            }
            case 0x33: {
                if (f7 == 0 || f7 == 1) return BODY;
                if (f7 == 0x20) return f3 == 0 || f3 == 5 ? BODY : STOP;
                return STOP;
            }
            case 0x3b: {
                if (f7 == 0) return f3 == 0 || f3 == 1 || f3 == 5 ? BODY : STOP;
                if (f7 == 0x20) return f3 == 0 || f3 == 5 ? BODY : STOP;
                if (f7 == 1) return f3 == 0 || f3 >= 4 ? BODY : STOP;
                return STOP;
            }
            case 0x03: return f3 != 7 ? BODY : STOP;
            case 0x23: return f3 <= 3 ? BODY : STOP;
            case 0x63: return f3 != 2 && f3 != 3 ? BODY : STOP; // conditional: a side exit, the block goes on
            case 0x6f: return EXIT;
            case 0x67: return f3 == 0 ? EXIT : STOP;
            case 0x2f: return (f3 == 2 || f3 == 3) && Atomics.isDefined(w >>> 27) ? BODY : STOP; // LR/SC/AMO: Atomics, as the interpreter
            case 0x0f: return f3 == 0 ? BODY : STOP; // fence (fence.i stays with the interpreter: it starts a code epoch)
            case 0x73: return Privileged.translatable(w) ? BODY : STOP; // the hot CSRs; ecall, sret, wfi... stay
            default: return STOP;
        }
    }

    // ---------------------------------------------------------------- code generation

    private static byte[] generate(java.util.List<Insn> insns, int pageOffset, boolean regions, int[] exitCount) {
        String name = Block.class.getPackageName() + ".B" + SERIAL.incrementAndGet();
        return ClassFile.of().build(ClassDesc.of(name), cb -> {
            cb.withSuperclass(CD_BLOCK);
            cb.withFlags(ClassFile.ACC_FINAL | ClassFile.ACC_SUPER);
            cb.withMethodBody(ConstantDescs.INIT_NAME, ConstantDescs.MTD_void, ClassFile.ACC_PUBLIC, c -> {
                c.aload(0);
                c.invokespecial(CD_BLOCK, ConstantDescs.INIT_NAME, ConstantDescs.MTD_void);
                c.return_();
            });
            cb.withMethodBody("run", RUN, ClassFile.ACC_PUBLIC | ClassFile.ACC_FINAL, c -> {
                Gen g = new Gen(c, pageOffset);
                g.emit(insns, regions);
                exitCount[0] = g.exitSlots;
            });
        });
    }

    /** Emits one block's run method. Slots: 0 this, 1 hart, 2 x[], 3-4 pc, then the index, n, a scratch value, the TLB and exit targets. */
    private static final class Gen {
        final CodeBuilder c;
        /** A scratch local for the value {@link #set} stores. */
        final int valueSlot;
        /**
         * Locals: the instruction about to fault (its index | instructions before it in its straight
         * run << 16), and {@code n}, the instructions retired in this run of the method before the
         * current straight run began (internal jumps add to it as they leave a run).
         */
        final int indexSlot, nSlot;
        /** While emitting: instructions of the current straight run before the one being emitted. */
        int runLength;
        /** Page offset of each instruction start that internal jumps reach (and the entry). */
        final java.util.HashMap<Integer, Label> labels = new java.util.HashMap<>();
        final int pageOffset;
        /** Exits to static targets in this page, emitted after the method body (see {@link #chain}). */
        final java.util.List<Stub> stubs = new java.util.ArrayList<>();

        /** Elements of the block's {@link Block#exits}: one per stub, two for a call's. */
        int exitSlots;
        /** The block's instructions, in address order (while emitting). */
        java.util.List<Insn> insns;

        /**
         * An exit to a static in-page target ({@code targetSlot} -1), or to the pc in {@code targetSlot},
         * linked in {@code exits[site]}. A call ({@code returnTo} not {@link #NO_RETURN}) also links the
         * block at its return site in {@code exits[site + 1]}, for when the callee returns there.
         */
        record Stub(Label label, long target, int targetSlot, int site, long returnTo) {}
        static final long NO_RETURN = Long.MIN_VALUE;
        /** {@link #auipcTarget}'s answer for a jalr whose target is known only at run time. */
        static final long NOT_STATIC = Long.MIN_VALUE;

        /** The hart's data TLB arrays (final) and data context, in locals for the loads and stores (see {@link Hart#tlbLoad64}). */
        final int readTagSlot, readOffSlot, writeTagSlot, writeOffSlot, ctxSlot;

        Gen(CodeBuilder c, int pageOffset) {
            this.c = c;
            this.pageOffset = pageOffset;
            indexSlot = c.allocateLocal(TypeKind.INT);
            nSlot = c.allocateLocal(TypeKind.INT);
            valueSlot = c.allocateLocal(TypeKind.LONG);
            readTagSlot = c.allocateLocal(TypeKind.REFERENCE);
            readOffSlot = c.allocateLocal(TypeKind.REFERENCE);
            writeTagSlot = c.allocateLocal(TypeKind.REFERENCE);
            writeOffSlot = c.allocateLocal(TypeKind.REFERENCE);
            ctxSlot = c.allocateLocal(TypeKind.LONG);
        }

        /** Loads the hart's data context into its local (at the start, and again after a CSR write may have changed it). */
        void loadContext() {
            c.aload(1);
            c.getfield(CD_HART, "dataCtx", ConstantDescs.CD_long);
            c.lstore(ctxSlot);
        }

        void emit(java.util.List<Insn> insns, boolean regions) {
            c.iconst_0();
            c.istore(indexSlot);
            c.iconst_0();
            c.istore(nSlot);
            String[] names = {"readTag", "readOff", "writeTag", "writeOff"};
            int[] slots = {readTagSlot, readOffSlot, writeTagSlot, writeOffSlot};
            for (int k = 0; k < 4; k++) {
                c.aload(1);
                c.getfield(CD_HART, names[k], ConstantDescs.CD_long.arrayType());
                c.astore(slots[k]);
            }
            loadContext();
            this.insns = insns;
            java.util.HashSet<Integer> starts = new java.util.HashSet<>();
            for (Insn in : insns) starts.add(pageOffset + in.offset());
            labels.put(pageOffset, c.newLabel());
            for (Insn in : regions ? insns : java.util.List.<Insn>of()) { // a straight block jumps only out
                int op = in.word() & 0x7f;
                if (op != 0x63 && op != 0x6f) continue;
                long t = pageOffset + in.offset() + (op == 0x63 ? Hart.bImm(in.word()) : Hart.jImm(in.word()));
                if (t >= 0 && t < 0x1000 && starts.contains((int) t)) labels.putIfAbsent((int) t, c.newLabel());
            }
            Label start = c.newLabel(), end = c.newLabel(), handler = c.newLabel();
            c.labelBinding(start);
            if (insns.get(0).offset() != 0) c.goto_(labels.get(pageOffset)); // the entry is not the lowest instruction
            runLength = 0;
            boolean fallsIn = false; // whether the previous instruction continues into this one
            for (int i = 0; i < insns.size(); i++) {
                Insn in = insns.get(i);
                int p = pageOffset + in.offset();
                Label l = labels.get(p);
                if (l != null) {
                    if (fallsIn && runLength > 0) c.iinc(nSlot, runLength);
                    c.labelBinding(l);
                    runLength = 0;
                }
                instruction(in, i);
                runLength++;
                int op = in.word() & 0x7f;
                if (op == 0x6f || op == 0x67) { // jumps leave or go on inside the region themselves
                    fallsIn = false;
                    runLength = 0;
                    continue;
                }
                int q = p + in.len();
                fallsIn = i + 1 < insns.size() && pageOffset + insns.get(i + 1).offset() == q;
                if (!fallsIn) { // the next instruction is not in the region: leave for it
                    executed(runLength);
                    if (q < 0x1000) {
                        exitTo(q - pageOffset);
                    } else {
                        pcPlus(q - pageOffset);
                        c.lreturn();
                    }
                    runLength = 0;
                }
            }
            c.labelBinding(end);
            c.labelBinding(handler);
            // catch (Trap t): note the faulting instruction, rethrow
            int exc = c.allocateLocal(TypeKind.REFERENCE);
            c.astore(exc);
            c.aload(1);
            c.iload(indexSlot);
            c.ldc(0xffff);
            c.iand();
            c.putfield(CD_HART, "blockFaultIndex", ConstantDescs.CD_int);
            c.aload(1);
            c.dup();
            c.getfield(CD_HART, "blockExecuted", ConstantDescs.CD_int);
            c.iload(nSlot);
            c.iadd();
            c.iload(indexSlot);
            c.bipush(16);
            c.iushr();
            c.iadd();
            c.putfield(CD_HART, "blockExecuted", ConstantDescs.CD_int);
            c.aload(1);
            c.lload(3);
            c.putfield(CD_HART, "blockFaultPc", ConstantDescs.CD_long);
            c.aload(1);
            c.aload(0);
            c.putfield(CD_HART, "blockFaultBlock", CD_BLOCK);
            c.aload(exc);
            c.athrow();
            c.exceptionCatch(start, end, handler, CD_TRAP);
            for (Stub s : stubs) stub(s);
        }

        /**
         * Leaves the block towards {@code target} (a pc-relative offset from the block start) after the
         * executed count was added: through a chained call to the successor block when the target is
         * in this page, else by returning the target to the dispatcher.
         */
        void exitTo(long target) {
            exitTo(target, NO_RETURN);
        }

        /**
         * As {@link #exitTo(long)}, for a call whose return site is {@code returnTo} (a pc-relative
         * offset from the block start; {@link #NO_RETURN} for a plain jump). A return site in this
         * page gets a link of its own (see {@link #stub}); one past the page end is left to the dispatcher.
         */
        void exitTo(long target, long returnTo) {
            long inPage = pageOffset + target;
            long returnInPage = pageOffset + returnTo;
            if (returnTo != NO_RETURN && (!callReturns || returnInPage < 0 || returnInPage >= 0x1000)) returnTo = NO_RETURN;
            int site = exitSlots;
            exitSlots += returnTo == NO_RETURN ? 1 : 2;
            Label l = c.newLabel();
            if (inPage >= 0 && inPage < 0x1000) {
                stubs.add(new Stub(l, target, -1, site, returnTo));
            } else {
                int slot = c.allocateLocal(TypeKind.LONG);
                pcPlus(target);
                c.lstore(slot);
                stubs.add(new Stub(l, 0, slot, site, returnTo));
            }
            c.goto_(l);
        }

        /** Pushes the stub's target pc. */
        void target(Stub s) {
            if (s.targetSlot() < 0) pcPlus(s.target());
            else c.lload(s.targetSlot());
        }

        /**
         * A chained exit, placed outside the exception range so that a trap in a successor is handled
         * by the successor alone: call {@code exits[k]} if it is linked, still valid and the chain budget
         * allows; otherwise ask the dispatcher to link it (if unlinked) and return the target pc.
         */
        void stub(Stub s) {
            int k = s.site();
            Label plain = c.newLabel(), unlinked = c.newLabel();
            c.labelBinding(s.label());
            chainedCall(k, unlinked, plain, () -> target(s), next -> {
                if (s.targetSlot() >= 0) {
                    // a dynamic target: the linked block must be the one at the target's guest-RAM offset
                    // now, found through the fetch TLB (which also proves fetching there is allowed)
                    c.aload(1);
                    c.lload(s.targetSlot());
                    c.invokevirtual(CD_HART, "codeOffset", MethodTypeDesc.of(ConstantDescs.CD_long, ConstantDescs.CD_long));
                    c.aload(next);
                    c.getfield(CD_BLOCK, "ramOffset", ConstantDescs.CD_long);
                    c.lcmp();
                    c.ifne(unlinked); // another target than last time: let the dispatcher link this one
                }
            });
            if (s.returnTo() != NO_RETURN) returned(s);
            c.lreturn();
            c.labelBinding(unlinked);
            requestLink(k);
            c.labelBinding(plain);
            target(s);
            c.lreturn();
        }

        /**
         * The chained call of exit {@code k}: when {@code exits[k]} is linked (else to {@code unlinked}),
         * the chain budget allows, {@code check} (given the local holding the block) does not jump
         * away, and the block is still valid (else to {@code notNow}), spends one of the budget and
         * calls it at the pc {@code pushTarget} pushes, leaving its next pc on the stack.
         */
        void chainedCall(int k, Label unlinked, Label notNow, Runnable pushTarget, java.util.function.IntConsumer check) {
            int next = c.allocateLocal(TypeKind.REFERENCE);
            c.aload(0);
            c.getfield(CD_BLOCK, "exits", CD_BLOCK.arrayType());
            c.ldc(k);
            c.aaload();
            c.astore(next);
            c.aload(next);
            c.ifnull(unlinked);
            c.aload(1);
            c.getfield(CD_HART, "chainLeft", ConstantDescs.CD_int);
            c.ifle(notNow);
            check.accept(next);
            c.aload(next);
            c.aload(1);
            c.getfield(CD_HART, "ram", CD_SEGMENT);
            c.invokevirtual(CD_BLOCK, "valid", MethodTypeDesc.of(ConstantDescs.CD_boolean, CD_SEGMENT));
            c.ifeq(notNow);
            c.aload(1);
            c.dup();
            c.getfield(CD_HART, "chainLeft", ConstantDescs.CD_int);
            c.iconst_1();
            c.isub();
            c.putfield(CD_HART, "chainLeft", ConstantDescs.CD_int);
            c.aload(next);
            c.aload(1);
            c.aload(2);
            pushTarget.run();
            c.invokevirtual(CD_BLOCK, "run", RUN);
        }

        /** Asks the dispatcher to link exit {@code k} to the block it finds at the pc this block returns. */
        void requestLink(int k) {
            c.aload(1);
            c.aload(0);
            c.putfield(CD_HART, "linkFrom", CD_BLOCK);
            c.aload(1);
            c.ldc(k);
            c.putfield(CD_HART, "linkSite", ConstantDescs.CD_int);
        }

        /**
         * After a call's chained callee returned (its next pc on the stack): when that is the call's
         * return site, goes on there through the block linked in {@code exits[site + 1]} rather than
         * returning through every chained caller to the dispatcher, which would look the return site
         * up again (about half of the dispatcher's entries on the disk-read workload were returns).
         * Leaves the pc on the stack for the lreturn that follows.
         */
        void returned(Stub s) {
            int k = s.site() + 1;
            Label back = c.newLabel(), unlinked = c.newLabel();
            int r = c.allocateLocal(TypeKind.LONG);
            c.lstore(r);
            c.lload(r);
            pcPlus(s.returnTo());
            c.lcmp();
            c.ifne(back); // returned elsewhere (a longjmp, a trap return): as a plain chained exit
            // a link the callee asked for is for the same pc, but drop it: the dispatcher links only
            // the last unlinked exit taken, and the return site's block may take others
            c.aload(1);
            c.aconst_null();
            c.putfield(CD_HART, "linkFrom", CD_BLOCK);
            chainedCall(k, unlinked, back, () -> c.lload(r), next -> {
                c.aload(1);
                c.getfield(CD_HART, "sliceEnd", ConstantDescs.CD_boolean);
                c.ifne(back); // the callee asked for the run loop (see Privileged.csrOp)
            });
            c.lreturn();
            c.labelBinding(unlinked);
            requestLink(k);
            c.labelBinding(back);
            c.lload(r);
        }

        /** Adds how many instructions ran before this exit (for instret and the budget; chained blocks add up). */
        void executed(int n) {
            c.aload(1);
            c.dup();
            c.getfield(CD_HART, "blockExecuted", ConstantDescs.CD_int);
            c.iload(nSlot);
            c.iadd();
            if (n != 0) {
                c.ldc(n);
                c.iadd();
            }
            c.putfield(CD_HART, "blockExecuted", ConstantDescs.CD_int);
        }

        /** Pushes register r (0 for x0), read from x[] (see the class comment for why not a local). */
        void get(int r) {
            if (r == 0) {
                c.lconst_0();
            } else {
                c.aload(2);
                c.bipush(r);
                c.laload();
            }
        }

        /** Pops a long into register r (discarded for x0), stored to x[] at once, so x[] is always exact. */
        void set(int r) {
            if (r == 0) {
                c.pop2();
            } else {
                c.lstore(valueSlot);
                c.aload(2);
                c.bipush(r);
                c.lload(valueSlot);
                c.lastore();
            }
        }

        void pcPlus(long delta) {
            c.lload(3);
            if (delta != 0) {
                c.ldc(delta);
                c.ladd();
            }
        }

        void constant(long v) {
            if (v == 0) c.lconst_0();
            else if (v == 1) c.lconst_1();
            else c.ldc(v);
        }

        void markIndex(int i) {
            c.ldc(i | runLength << 16);
            c.istore(indexSlot);
        }

        void ops(String name, MethodTypeDesc type) {
            c.invokestatic(CD_OPS, name, type);
        }

        void instruction(Insn in, int index) {
            int w = in.word();
            int rd = (w >>> 7) & 31, rs1 = (w >>> 15) & 31, rs2 = (w >>> 20) & 31, f3 = (w >>> 12) & 7, f7 = w >>> 25;
            long immI = w >> 20;
            switch (w & 0x7f) {
                case 0x37 -> { constant(w & 0xfffff000); set(rd); }
                case 0x17 -> { pcPlus(in.offset() + (long) (w & 0xfffff000)); set(rd); }
                case 0x13 -> { // OP-IMM
                    get(rs1);
                    switch (f3) {
                        case 0 -> { constant(immI); c.ladd(); }
                        case 1 -> { c.ldc((int) (immI & 63)); c.lshl(); }
                        case 2 -> { constant(immI); ops("slt", JJ_J); }
                        case 3 -> { constant(immI); ops("sltu", JJ_J); }
                        case 4 -> { constant(immI); c.lxor(); }
                        case 5 -> { c.ldc((int) (immI & 63)); if ((w >>> 26) == 0) c.lushr(); else c.lshr(); }
                        case 6 -> { constant(immI); c.lor(); }
                        default -> { constant(immI); c.land(); }
                    }
                    set(rd);
                }
                case 0x1b -> { // OP-IMM-32
                    get(rs1);
                    c.l2i();
                    int sh = (w >>> 20) & 31;
                    switch (f3) {
                        case 0 -> { c.ldc((int) immI); c.iadd(); }
                        case 1 -> { c.ldc(sh); c.ishl(); }
                        default -> { c.ldc(sh); if (f7 == 0) c.iushr(); else c.ishr(); }
                    }
                    c.i2l();
                    set(rd);
                }
                case 0x33 -> { // OP
                    get(rs1);
                    get(rs2);
                    if (f7 == 1) {
                        if (f3 == 0) c.lmul();
                        else mulDiv(f3);
                    } else if (f7 == 0x20) {
                        if (f3 == 0) c.lsub();
                        else { c.l2i(); c.lshr(); }
                    } else {
                        switch (f3) {
                            case 0 -> c.ladd();
                            case 1 -> { c.l2i(); c.lshl(); }
                            case 2 -> ops("slt", JJ_J);
                            case 3 -> ops("sltu", JJ_J);
                            case 4 -> c.lxor();
                            case 5 -> { c.l2i(); c.lushr(); }
                            case 6 -> c.lor();
                            default -> c.land();
                        }
                    }
                    set(rd);
                }
                case 0x3b -> { // OP-32
                    if (f7 == 1) {
                        c.ldc(f3);
                        get(rs1);
                        c.l2i();
                        get(rs2);
                        c.l2i();
                        ops("mulDivW", IJJ_I);
                        c.i2l();
                    } else {
                        get(rs1);
                        c.l2i();
                        get(rs2);
                        c.l2i();
                        if (f7 == 0x20) {
                            if (f3 == 0) c.isub(); else c.ishr();
                        } else {
                            switch (f3) {
                                case 0 -> c.iadd();
                                case 1 -> c.ishl();
                                default -> c.iushr();
                            }
                        }
                        c.i2l();
                    }
                    set(rd);
                }
                case 0x03 -> { // LOAD
                    markIndex(index);
                    get(rs1);
                    constant(immI);
                    c.ladd();
                    c.aload(readTagSlot);
                    c.aload(readOffSlot);
                    c.lload(ctxSlot);
                    c.aload(1);
                    int size = 1 << (f3 & 3);
                    c.invokestatic(CD_HART, "tlbLoad" + 8 * size, REGION_LOAD);
                    if (f3 >= 4) {
                        c.ldc(size == 1 ? 0xffL : size == 2 ? 0xffffL : 0xffffffffL);
                        c.land();
                    }
                    set(rd);
                }
                case 0x23 -> { // STORE
                    markIndex(index);
                    long imm = ((w >> 25) << 5) | ((w >>> 7) & 31);
                    get(rs1);
                    constant(imm);
                    c.ladd();
                    get(rs2);
                    c.aload(writeTagSlot);
                    c.aload(writeOffSlot);
                    c.lload(ctxSlot);
                    c.aload(1);
                    c.invokestatic(CD_HART, "tlbStore" + 8 * (1 << f3), REGION_STORE);
                }
                case 0x63 -> { // BRANCH: leaves the block when taken
                    long imm = Hart.bImm(w);
                    Label taken = c.newLabel();
                    get(rs1);
                    get(rs2);
                    switch (f3) {
                        case 0 -> { c.lcmp(); c.ifeq(taken); }
                        case 1 -> { c.lcmp(); c.ifne(taken); }
                        case 4 -> { c.lcmp(); c.iflt(taken); }
                        case 5 -> { c.lcmp(); c.ifge(taken); }
                        case 6 -> { ops("cmpu", MethodTypeDesc.of(ConstantDescs.CD_int, ConstantDescs.CD_long, ConstantDescs.CD_long)); c.iflt(taken); }
                        default -> { ops("cmpu", MethodTypeDesc.of(ConstantDescs.CD_int, ConstantDescs.CD_long, ConstantDescs.CD_long)); c.ifge(taken); }
                    }
                    // not taken: fall through to the next instruction of the block (a side exit, so blocks
                    // run on through branches that are usually not taken), or leave if it is the last one
                    Label notTaken = c.newLabel();
                    c.goto_(notTaken);
                    c.labelBinding(taken);
                    jump(in, imm);
                    c.labelBinding(notTaken);
                }
                case 0x6f -> { // JAL
                    pcPlus(in.offset() + in.len());
                    set(rd);
                    jump(in, Hart.jImm(w), rd != 0 ? in.offset() + in.len() : NO_RETURN);
                }
                case 0x2f -> { // A extension: the interpreter's own code, which may trap like a load or store
                    markIndex(index);
                    c.aload(1);
                    c.ldc(w);
                    get(rs1);
                    get(rs2);
                    c.invokestatic(CD_ATOMICS, "apply", MethodTypeDesc.of(ConstantDescs.CD_long, CD_HART,
                            ConstantDescs.CD_int, ConstantDescs.CD_long, ConstantDescs.CD_long));
                    set(rd);
                }
                case 0x0f -> c.invokestatic(ClassDesc.of("java.lang.invoke.VarHandle"), "fullFence", ConstantDescs.MTD_void); // fence
                case 0x73 -> { // a CSR instruction: the interpreter's own code, which may trap like a load
                    markIndex(index);
                    c.aload(1);
                    c.ldc(w);
                    if (f3 < 4) get(rs1); else constant(rs1);
                    c.invokestatic(CD_PRIVILEGED, "csrOp", MethodTypeDesc.of(ConstantDescs.CD_long, CD_HART,
                            ConstantDescs.CD_int, ConstantDescs.CD_long));
                    set(rd);
                    loadContext(); // an sstatus write (SUM, MXR) changes which TLB entries apply
                    // a write the run loop must see (an interrupt it let in, say): leave for the dispatcher,
                    // not through a chained successor, and it returns to the run loop
                    Label goOn = c.newLabel();
                    c.aload(1);
                    c.getfield(CD_HART, "sliceEnd", ConstantDescs.CD_boolean);
                    c.ifeq(goOn);
                    executed(runLength + 1);
                    pcPlus(in.offset() + in.len());
                    c.lreturn();
                    c.labelBinding(goOn);
                }
                default -> { // JALR: target from rs1 before rd is written
                    long fixed = auipcTarget(in, index);
                    if (fixed != NOT_STATIC) {
                        // auipc + jalr (a call or tail call too far for jal): a static target, so the
                        // exit is chained like jal's
                        pcPlus(in.offset() + in.len());
                        set(rd);
                        executed(runLength + 1);
                        exitTo(fixed, rd != 0 ? in.offset() + in.len() : NO_RETURN);
                        break;
                    }
                    get(rs1);
                    constant(immI);
                    c.ladd();
                    c.ldc(~1L);
                    c.land();
                    int target = c.allocateLocal(TypeKind.LONG);
                    c.lstore(target);
                    pcPlus(in.offset() + in.len());
                    set(rd);
                    executed(runLength + 1);
                    // any other jalr (returns, indirect calls) goes through the dispatcher: chaining it to
                    // whichever block it reached last was measured to be much slower (polymorphic call
                    // sites deoptimize). With call returns on, a return avoids it when its call was chained (see returned).
                    c.lload(target);
                    c.lreturn();
                }
            }
        }

        /**
         * A taken branch or jal by {@code imm} from instruction {@code in}: a jump inside the region when
         * the target is one of its instructions (a backward one leaves instead once the method has run
         * {@link #LOOP_LIMIT} instructions), else an exit.
         */
        void jump(Insn in, long imm) {
            jump(in, imm, NO_RETURN);
        }

        /** As {@link #jump(Insn, long)}; an exit is a call returning to {@code returnTo} unless that is {@link #NO_RETURN}. */
        void jump(Insn in, long imm, long returnTo) {
            long t = pageOffset + in.offset() + imm;
            Label target = t >= 0 && t < 0x1000 ? labels.get((int) t) : null;
            if (target == null) {
                executed(runLength + 1);
                exitTo(in.offset() + imm, returnTo);
                return;
            }
            c.iinc(nSlot, runLength + 1);
            if (t > pageOffset + in.offset()) {
                c.goto_(target);
                return;
            }
            c.iload(nSlot);
            c.ldc(LOOP_LIMIT);
            c.if_icmplt(target);
            executed(0);
            pcPlus(in.offset() + imm);
            c.lreturn();
        }

        /**
         * The target of jalr {@code in} (as an offset from the block start) when its base register was
         * just set by the auipc right before it, which no jump inside the region skips; else {@link #NOT_STATIC}.
         */
        long auipcTarget(Insn in, int index) {
            if (!staticJalr || index == 0 || labels.containsKey(pageOffset + in.offset())) return NOT_STATIC;
            Insn prev = insns.get(index - 1);
            int w = in.word(), p = prev.word();
            int rs1 = (w >>> 15) & 31;
            if ((p & 0x7f) != 0x17 || ((p >>> 7) & 31) != rs1 || rs1 == 0 || prev.offset() + prev.len() != in.offset()) return NOT_STATIC;
            return (prev.offset() + (long) (p & 0xfffff000) + (w >> 20)) & ~1L;
        }

        void mulDiv(int f3) {
            // stack: a, b -> Alu.mulDiv(f3, a, b)
            int b = c.allocateLocal(TypeKind.LONG), a = c.allocateLocal(TypeKind.LONG);
            c.lstore(b);
            c.lstore(a);
            c.ldc(f3);
            c.lload(a);
            c.lload(b);
            ops("mulDiv", IJJ_J);
        }
    }
}
