//go:build !purego

// arm64 kernels for the hardware layer. Every routine computes exactly what
// its reference in kernels_generic.go computes, for every length including
// zero, and reads nothing outside its slice. Arguments come on the stack
// (ABI0) through the named frame slots that go vet's asmdecl check matches
// against the stubs in kernels_arm64.go; no routine uses a stack frame.
//
// Go's assembler has no signed 64-bit vector compare, so CMGT and CMGE on
// .2D lanes are emitted as WORDs by the VCMGT2D/VCMGE2D macros below
// (Advanced SIMD "three same", U=0, size=11, opcode 00110 / 00111).
//
// selectNEON(words, k): index of the k-th set bit (k >= 0), or -1.
//   R0 = words, R1 = len, R2 = k still to skip, R3 = word index.
//   Blocks of 8 words: VCNT per byte, bytes added (at most 32 each), one
//   VUADDLV gives the block's count; skip while k >= it. Then word by word
//   (FMOVD, VCNT, VUADDLV), and in the word a broadword select: the
//   byte-wise popcounts times 0x0101..01 are the bytes' prefix sums, a SWAR
//   compare against k counts the bytes wholly below the bit (the byte
//   index, R9 = 8*index), and the same on the chosen byte's bits spread
//   over eight bytes gives the bit. R10..R15 hold the masks.
//
// popCountNEON(words): 8 words a step through VCNT and VUADDLV, summed in
//   R2; the last 0..7 words one at a time.
//
// minIndexNEON(v): two passes. Pass one keeps 4 accumulators V0..V3 of
//   two lanes, VCMGT2D + VBIT per 2 values, 8 values a step; a scalar tail
//   and the folded lanes give the minimum (R4). Pass two compares 8 values
//   a step with VCMEQ against it (V20), ORs the masks, and on a hit scans
//   that step scalar for the first equal, which is the lowest index.
//
// firstDueNEON(deadlines, now): VCMGE2D now >= d, 8 deadlines a step, the
//   step with a hit (or the 0..7 left) scanned scalar. V20 = now, R9 = index.

#include "textflag.h"

// VCMGT2D: Vd.2D = Vn.2D > Vm.2D (signed), VCMGE2D: Vd.2D = Vn.2D >= Vm.2D.
#define VCMGT2D(d, n, m) WORD $(0x4ee03400 | (m<<16) | (n<<5) | d)
#define VCMGE2D(d, n, m) WORD $(0x4ee03c00 | (m<<16) | (n<<5) | d)

// func selectNEON(words []uint64, k int) int
TEXT ·selectNEON(SB), NOSPLIT, $0-40
	MOVD words_base+0(FP), R0
	MOVD words_len+8(FP), R1
	MOVD k+24(FP), R2
	MOVD $0, R3
	AND  $-8, R1, R4

sel_block:
	CMP     R4, R3
	BHS     sel_word
	ADD     R3<<3, R0, R5
	VLD1    (R5), [V0.B16, V1.B16, V2.B16, V3.B16]
	VCNT    V0.B16, V0.B16
	VCNT    V1.B16, V1.B16
	VCNT    V2.B16, V2.B16
	VCNT    V3.B16, V3.B16
	VADD    V1.B16, V0.B16, V0.B16
	VADD    V3.B16, V2.B16, V2.B16
	VADD    V2.B16, V0.B16, V0.B16
	VUADDLV V0.B16, V4
	VMOV    V4.H[0], R6
	CMP     R6, R2
	BLO     sel_word               // the bit is in this block
	SUB     R6, R2, R2
	ADD     $8, R3, R3
	B       sel_block

sel_word:
	CMP     R1, R3
	BHS     sel_none
	MOVD    (R0)(R3<<3), R7
	FMOVD   R7, F5
	VCNT    V5.B8, V5.B8
	VUADDLV V5.B8, V5
	VMOV    V5.H[0], R6
	CMP     R6, R2
	BLO     sel_found
	SUB     R6, R2, R2
	ADD     $1, R3, R3
	B       sel_word

sel_found:
	MOVD $0x5555555555555555, R10
	MOVD $0x3333333333333333, R11
	MOVD $0x0f0f0f0f0f0f0f0f, R12
	MOVD $0x0101010101010101, R13
	MOVD $0x8080808080808080, R14

	// R8 = byte-wise popcounts of the word R7, then their prefix sums.
	AND R7>>1, R10, R8
	SUB R8, R7, R8
	AND R8>>2, R11, R9
	AND R11, R8, R8
	ADD R9, R8, R8
	ADD R8>>4, R8, R8
	AND R12, R8, R8
	MUL R13, R8, R8

	// R9 = 8 * (bytes whose prefix sum is <= k).
	MUL R13, R2, R9
	ORR R14, R9, R9
	SUB R8, R9, R9
	AND R14, R9, R9
	LSR $7, R9, R9
	MUL R13, R9, R9
	LSR $56, R9, R9
	LSL $3, R9, R9

	// k -= bits below that byte; R7 = that byte.
	LSL $8, R8, R8
	LSR R9, R8, R8
	AND $0xff, R8, R8
	SUB R8, R2, R2
	LSR R9, R7, R7
	AND $0xff, R7, R7

	// Spread the byte's bits over 8 bytes, prefix-sum them, count <= k.
	MUL  R13, R7, R7
	MOVD $0x8040201008040201, R15
	AND  R15, R7, R7
	MOVD $0x7f7f7f7f7f7f7f7f, R15
	ADD  R15, R7, R7
	AND  R14, R7, R7
	LSR  $7, R7, R7
	MUL  R13, R7, R7
	MUL  R13, R2, R8
	ORR  R14, R8, R8
	SUB  R7, R8, R8
	AND  R14, R8, R8
	LSR  $7, R8, R8
	MUL  R13, R8, R8
	LSR  $56, R8, R8

	ADD  R8, R9, R9
	ADD  R3<<6, R9, R0
	MOVD R0, ret+32(FP)
	RET

sel_none:
	MOVD $-1, R0
	MOVD R0, ret+32(FP)
	RET

// func popCountNEON(words []uint64) int
TEXT ·popCountNEON(SB), NOSPLIT, $0-32
	MOVD words_base+0(FP), R0
	MOVD words_len+8(FP), R1
	MOVD $0, R2
	LSR  $3, R1, R3
	CBZ  R3, pc_tail

pc_loop8:
	VLD1.P  64(R0), [V0.B16, V1.B16, V2.B16, V3.B16]
	VCNT    V0.B16, V0.B16
	VCNT    V1.B16, V1.B16
	VCNT    V2.B16, V2.B16
	VCNT    V3.B16, V3.B16
	VADD    V1.B16, V0.B16, V0.B16
	VADD    V3.B16, V2.B16, V2.B16
	VADD    V2.B16, V0.B16, V0.B16
	VUADDLV V0.B16, V4
	VMOV    V4.H[0], R4
	ADD     R4, R2, R2
	SUB     $1, R3, R3
	CBNZ    R3, pc_loop8

pc_tail:
	AND $7, R1, R1
	CBZ R1, pc_done

pc_loop1:
	MOVD.P  8(R0), R4
	FMOVD   R4, F4
	VCNT    V4.B8, V4.B8
	VUADDLV V4.B8, V4
	VMOV    V4.H[0], R4
	ADD     R4, R2, R2
	SUB     $1, R1, R1
	CBNZ    R1, pc_loop1

pc_done:
	MOVD R2, ret+24(FP)
	RET

// func minIndexNEON(v []int64) int
TEXT ·minIndexNEON(SB), NOSPLIT, $0-32
	MOVD v_base+0(FP), R0
	MOVD v_len+8(FP), R1
	CBZ  R1, mi_empty
	MOVD R0, R8

	// Pass one: the minimum, into R4.
	MOVD $0x7fffffffffffffff, R2
	VDUP R2, V0.D2
	VDUP R2, V1.D2
	VDUP R2, V2.D2
	VDUP R2, V3.D2
	LSR  $3, R1, R3
	CBZ  R3, mi_fold

mi_min8:
	VLD1.P 64(R0), [V4.D2, V5.D2, V6.D2, V7.D2]
	VCMGT2D(16, 0, 4)
	VCMGT2D(17, 1, 5)
	VCMGT2D(18, 2, 6)
	VCMGT2D(19, 3, 7)
	VBIT   V16.B16, V4.B16, V0.B16
	VBIT   V17.B16, V5.B16, V1.B16
	VBIT   V18.B16, V6.B16, V2.B16
	VBIT   V19.B16, V7.B16, V3.B16
	SUB    $1, R3, R3
	CBNZ   R3, mi_min8

mi_fold:
	VCMGT2D(16, 0, 1)
	VBIT V16.B16, V1.B16, V0.B16
	VCMGT2D(17, 2, 3)
	VBIT V17.B16, V3.B16, V2.B16
	VCMGT2D(16, 0, 2)
	VBIT V16.B16, V2.B16, V0.B16
	VMOV V0.D[0], R4
	VMOV V0.D[1], R5
	CMP  R5, R4
	CSEL LT, R4, R5, R4
	AND  $7, R1, R3
	CBZ  R3, mi_pass2

mi_min1:
	MOVD.P 8(R0), R6
	CMP    R4, R6
	CSEL   LT, R6, R4, R4
	SUB    $1, R3, R3
	CBNZ   R3, mi_min1

	// Pass two: the first index holding R4.
mi_pass2:
	MOVD R8, R0
	VDUP R4, V20.D2
	MOVD $0, R9
	LSR  $3, R1, R3
	CBZ  R3, mi_scan

mi_eq8:
	VLD1.P 64(R0), [V4.D2, V5.D2, V6.D2, V7.D2]
	VCMEQ  V4.D2, V20.D2, V4.D2
	VCMEQ  V5.D2, V20.D2, V5.D2
	VCMEQ  V6.D2, V20.D2, V6.D2
	VCMEQ  V7.D2, V20.D2, V7.D2
	VORR   V5.B16, V4.B16, V16.B16
	VORR   V7.B16, V6.B16, V17.B16
	VORR   V17.B16, V16.B16, V16.B16
	VMOV   V16.D[0], R5
	VMOV   V16.D[1], R6
	ORR    R5, R6, R5
	CBNZ   R5, mi_scan             // it is in these 8
	ADD    $8, R9, R9
	SUB    $1, R3, R3
	CBNZ   R3, mi_eq8

mi_scan:
	CMP  R1, R9
	BHS  mi_empty                   // unreachable: the minimum is in v
	MOVD (R8)(R9<<3), R6
	CMP  R4, R6
	BEQ  mi_found
	ADD  $1, R9, R9
	B    mi_scan

mi_found:
	MOVD R9, ret+24(FP)
	RET

mi_empty:
	MOVD $-1, R0
	MOVD R0, ret+24(FP)
	RET

// func firstDueNEON(deadlines []int64, now int64) int
TEXT ·firstDueNEON(SB), NOSPLIT, $0-40
	MOVD deadlines_base+0(FP), R0
	MOVD deadlines_len+8(FP), R1
	MOVD now+24(FP), R2
	MOVD R0, R8
	MOVD $0, R9
	VDUP R2, V20.D2
	LSR  $3, R1, R3
	CBZ  R3, fd_scan

fd_loop8:
	VLD1.P 64(R0), [V4.D2, V5.D2, V6.D2, V7.D2]
	VCMGE2D(4, 20, 4)
	VCMGE2D(5, 20, 5)
	VCMGE2D(6, 20, 6)
	VCMGE2D(7, 20, 7)
	VORR   V5.B16, V4.B16, V16.B16
	VORR   V7.B16, V6.B16, V17.B16
	VORR   V17.B16, V16.B16, V16.B16
	VMOV   V16.D[0], R5
	VMOV   V16.D[1], R6
	ORR    R5, R6, R5
	CBNZ   R5, fd_scan              // it is in these 8
	ADD    $8, R9, R9
	SUB    $1, R3, R3
	CBNZ   R3, fd_loop8

fd_scan:
	CMP  R1, R9
	BHS  fd_none
	MOVD (R8)(R9<<3), R6
	CMP  R2, R6
	BLE  fd_found
	ADD  $1, R9, R9
	B    fd_scan

fd_found:
	MOVD R9, ret+32(FP)
	RET

fd_none:
	MOVD $-1, R0
	MOVD R0, ret+32(FP)
	RET
