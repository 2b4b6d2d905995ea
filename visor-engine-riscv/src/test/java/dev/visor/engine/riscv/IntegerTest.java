package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** RV64I and M: arithmetic edge cases, one instruction at a time (operands in a1, a2; result in a0). */
class IntegerTest {
    private final TestMachine m = new TestMachine();

    /** Executes the single instruction emitted by {@code insn} with a1 = a, a2 = b and returns a0. */
    private long exec(Consumer<Asm> insn, long a, long b) {
        Asm asm = new Asm(BASE);
        insn.accept(asm);
        m.load(asm).reset(BASE);
        m.hart.x[A0] = 0xdeadbeefL;
        m.hart.x[A1] = a;
        m.hart.x[A2] = b;
        m.hart.execute(1);
        assertEquals(BASE + 4, m.hart.pc, "no trap expected");
        return m.x(A0);
    }

    private void check(long expected, Consumer<Asm> insn, long a, long b) {
        long got = exec(insn, a, b);
        assertEquals(expected, got, () -> String.format("a=0x%x b=0x%x: expected 0x%x got 0x%x", a, b, expected, got));
    }

    static final long MIN = Long.MIN_VALUE, MAX = Long.MAX_VALUE;

    @Test
    void divisionByZero() {
        check(-1, a -> a.div(A0, A1, A2), 42, 0);
        check(-1, a -> a.divu(A0, A1, A2), 42, 0);
        check(42, a -> a.rem(A0, A1, A2), 42, 0);
        check(-42, a -> a.remu(A0, A1, A2), -42, 0);
        check(-1, a -> a.divw(A0, A1, A2), 42, 0x1_0000_0000L); // only the low 32 bits of the divisor count
        check(-1, a -> a.divuw(A0, A1, A2), 42, 0);
        check(-7, a -> a.remw(A0, A1, A2), 0x1234_5678_ffff_fff9L, 0);  // dividend sign-extended from 32 bits
        check((int) 0x8000_0001, a -> a.remuw(A0, A1, A2), 0x8000_0001L, 0);
    }

    @Test
    void divisionOverflow() {
        check(MIN, a -> a.div(A0, A1, A2), MIN, -1);
        check(0, a -> a.rem(A0, A1, A2), MIN, -1);
        check(Integer.MIN_VALUE, a -> a.divw(A0, A1, A2), 0x8000_0000L, -1);
        check(0, a -> a.remw(A0, A1, A2), 0x8000_0000L, -1);
        check(0, a -> a.divu(A0, A1, A2), MIN, -1);
        check(MIN, a -> a.remu(A0, A1, A2), MIN, -1);
    }

    @Test
    void divisionSigns() {
        check(-3, a -> a.div(A0, A1, A2), -7, 2);   // rounds toward zero
        check(-1, a -> a.rem(A0, A1, A2), -7, 2);   // remainder takes the dividend's sign
        check(-3, a -> a.div(A0, A1, A2), 7, -2);
        check(1, a -> a.rem(A0, A1, A2), 7, -2);
        check(0x7fff_ffff_ffff_fffcL, a -> a.divu(A0, A1, A2), -7, 2);
        check(1, a -> a.remu(A0, A1, A2), -7, 2);
        check(0x7fff_fffc, a -> a.divuw(A0, A1, A2), 0xffff_fff9L, 2);
        check(-0x8000_0000L, a -> a.divuw(A0, A1, A2), 0xffff_ffffL << 32 | 0x8000_0000L, 1); // result sign-extended
    }

    @Test
    void multiplyHigh() {
        check(0, a -> a.mulh(A0, A1, A2), 3, 5);
        check(-1, a -> a.mulh(A0, A1, A2), -3, 5);
        check(0x3fff_ffff_ffff_ffffL, a -> a.mulh(A0, A1, A2), MAX, MAX);
        check(0x4000_0000_0000_0000L, a -> a.mulh(A0, A1, A2), MIN, MIN);
        // mulhu: (2^64-1)^2 = 2^128 - 2^65 + 1 -> high = 2^64 - 2
        check(-2, a -> a.mulhu(A0, A1, A2), -1, -1);
        check(1, a -> a.mulhu(A0, A1, A2), MIN, 2);
        // mulhsu: signed a * unsigned b
        check(-1, a -> a.mulhsu(A0, A1, A2), -1, -1);      // -1 * (2^64-1) = -(2^64) + 1 -> high -1
        check(-1, a -> a.mulhsu(A0, A1, A2), -1, 5);
        check(0, a -> a.mulhsu(A0, A1, A2), 1, -1);       // 1 * (2^64-1): high 0
        check(1, a -> a.mulhsu(A0, A1, A2), 2, -1);       // 2 * (2^64-1) = 2^65 - 2: high 1
        check(0, a -> a.mulhsu(A0, A1, A2), MIN, 0);
        check(MIN, a -> a.mulhsu(A0, A1, A2), MIN, -1);   // -2^63 * (2^64-1) = -2^127 + 2^63: high -2^63
    }

    @Test
    void multiplyLow() {
        check(-15, a -> a.mul(A0, A1, A2), -3, 5);
        check(1, a -> a.mul(A0, A1, A2), -1, -1);
        check((int) (0x1234_5678L * 0x9abc_def0L), a -> a.mulw(A0, A1, A2), 0x1234_5678L, 0x9abc_def0L);
        check(Integer.MIN_VALUE, a -> a.mulw(A0, A1, A2), 0x4000_0000L, 2); // sign-extended
    }

    @Test
    void shifts() {
        check(MIN, a -> a.slli(A0, A1, 63), 1, 0);
        check(1, a -> a.srli(A0, A1, 63), MIN, 0);
        check(-1, a -> a.srai(A0, A1, 63), MIN, 0);
        check(MIN, a -> a.sll(A0, A1, A2), 1, 63);
        check(1, a -> a.sll(A0, A1, A2), 1, 64);           // only 6 bits of the amount count
        check(1, a -> a.srl(A0, A1, A2), MIN, 63 + 128);
        check(-1, a -> a.sra(A0, A1, A2), MIN, 63);
        // 32-bit shifts: operate on the low word, result sign-extended
        check(Integer.MIN_VALUE, a -> a.slliw(A0, A1, 31), 1, 0);
        check(1, a -> a.srliw(A0, A1, 31), 0xffff_ffff_8000_0000L, 0);
        check(0x7fff_ffff, a -> a.srliw(A0, A1, 1), 0xffff_ffffL, 0);
        check(-1, a -> a.sraiw(A0, A1, 31), 0x8000_0000L, 0);
        check(-0x4000_0000L, a -> a.sraiw(A0, A1, 1), 0x1234_5678_8000_0000L, 0);
        check(0x4000_0000L, a -> a.srliw(A0, A1, 1), 0xffff_ffff_8000_0000L, 0);
        check(Integer.MIN_VALUE, a -> a.srliw(A0, A1, 0), 0x8000_0000L, 0); // srliw by 0 still sign-extends
        check(Integer.MIN_VALUE, a -> a.sllw(A0, A1, A2), 1, 31 + 32);
        check(1, a -> a.srlw(A0, A1, A2), 0x8000_0000L, 31);
        check(-1, a -> a.sraw(A0, A1, A2), 0x8000_0000L, 63);
    }

    @Test
    void illegalShiftEncodings() {
        // slliw with shamt[5] set is reserved on RV64; srai with a bad funct6 too
        TestMachine t = TestMachine.program(a -> {
            a.word(Asm.i(32, A1, 1, A0, 0x1b)); // slliw a0,a1,32
            a.label("h").spin();
        });
        t.hart.mtvec = BASE + 4;
        t.hart.execute(1);
        assertEquals(Trap.ILLEGAL, t.hart.mcause);
        assertEquals(BASE, t.hart.mepc);
        assertEquals(Asm.i(32, A1, 1, A0, 0x1b) & 0xffffffffL, t.hart.mtval);
    }

    @Test
    void addiwAndWordOps() {
        check(Integer.MIN_VALUE, a -> a.addiw(A0, A1, 1), 0x7fff_ffffL, 0);   // wraps and sign-extends
        check(-1, a -> a.addiw(A0, A1, -1), 0x1234_5678_0000_0000L, 0);        // upper bits ignored
        check(5, a -> a.addiw(A0, A1, 0), 0xffff_ffff_0000_0005L, 0);          // sext.w
        check(Integer.MIN_VALUE, a -> a.addw(A0, A1, A2), 0x7fff_ffffL, 1);
        check(0x7fff_ffff, a -> a.subw(A0, A1, A2), 0x8000_0000L, 1);
        check(-1, a -> a.addi(A0, A1, -1), 0, 0);
        check(0xffff_ffff_ffff_f800L, a -> a.addi(A0, A1, -2048), 0, 0);
    }

    @Test
    void comparisons() {
        check(1, a -> a.sltu(A0, A1, A2), 1, -1);   // -1 is the largest unsigned value
        check(0, a -> a.sltu(A0, A1, A2), -1, 1);
        check(1, a -> a.slt(A0, A1, A2), -1, 1);
        check(0, a -> a.slt(A0, A1, A2), 1, -1);
        check(1, a -> a.sltiu(A0, A1, -1), 5, 0);   // imm sign-extended, then compared unsigned
        check(0, a -> a.sltiu(A0, A1, -1), -1, 0);
        check(1, a -> a.sltu(A0, 0, A2), 0, 7);     // snez
        check(1, a -> a.slti(A0, A1, 0), MIN, 0);
    }

    @Test
    void logicAndImmediates() {
        check(0xffff_ffff_ffff_f0f0L, a -> a.xori(A0, A1, -1), 0xf0fL, 0);
        check(0x0ff, a -> a.andi(A0, A1, 0xff), -1, 0);
        check(-1, a -> a.ori(A0, A1, -2048), 0x7ff, 0);
        check(0xffff_ffff_8000_0000L, a -> a.lui(A0, 0x80000), 0, 0);
        check(BASE - 4096, a -> a.auipc(A0, 0xfffff), 0, 0); // imm sign-extended: pc - 4096
    }

    @Test
    void x0StaysZero() {
        TestMachine t = TestMachine.program(a -> {
            a.addi(ZERO, ZERO, 5);
            a.li(A0, 0x1234);
            a.add(ZERO, A0, A0);
            a.lui(ZERO, 1);
            a.jal(ZERO, "n");
            a.label("n").add(A1, ZERO, ZERO);
            a.label("end").spin();
        });
        t.runTo("end");
        assertEquals(0, t.x(ZERO));
        assertEquals(0, t.x(A1));
    }

    @Test
    void branchesAndJumps() {
        TestMachine t = TestMachine.program(a -> {
            a.li(A1, -1);
            a.li(A2, 1);
            a.li(A0, 0);
            a.blt(A2, A1, "bad");     // 1 < -1 signed: no
            a.bltu(A1, A2, "bad");    // 2^64-1 < 1 unsigned: no
            a.bge(A1, A2, "bad");
            a.bgeu(A2, A1, "bad");
            a.beq(A1, A2, "bad");
            a.bne(A1, A1, "bad");
            a.blt(A1, A2, "t1");
            a.j("bad");
            a.label("t1").bltu(A2, A1, "t2");
            a.j("bad");
            a.label("t2").jal(RA, "sub");
            a.addi(A0, A0, 1);        // returned here: a0 = 11
            a.label("end").spin();
            a.label("sub").addi(A0, A0, 10);
            a.addi(T0, RA, 1);        // jalr ignores bit 0 of the target
            a.jalr(T1, T0, 0);
            a.label("bad").li(A0, -1);
            a.spin();
        });
        t.runTo("end");
        assertEquals(11, t.x(A0));
        assertEquals(t.addressOf("end") - 4, t.x(RA)); // jal's link: the addi after it
        assertEquals(t.addressOf("bad"), t.x(T1));     // jalr's link: the instruction after it
    }
}
