//go:build !purego

// amd64 kernels for the hardware layer. Every routine computes exactly what
// its reference in kernels_generic.go computes, for every length including
// zero, and reads nothing outside its slice. Go's ABI0 passes the arguments
// on the stack; the routines use no stack of their own and keep nothing
// across calls. Offsets such as words_base+0(FP) are the named frame slots
// that go vet's asmdecl check matches against the stubs in kernels_amd64.go.
//
// selectBMI2(words, k): index of the k-th set bit (k >= 0), or -1.
//   SI = words, CX = len, DX = k still to skip, AX = word index.
//   Four POPCNTs per step skip whole 4-word blocks while k >= their count;
//   the block that holds the bit is walked word by word, then PDEP deposits
//   1<<k onto the word's set bits and TZCNT reads the position.
//
// popCountPOPCNT(words): scalar POPCNT, 4 independent accumulators
//   (AX, DX, R12, R13) over 4-word steps, then a one-word tail.
//
// popCountAVX512(words): VPOPCNTQ on 32 words a step into Z0..Z3, one zmm
//   per 8-word step, the last 1..7 words through a masked zero-filling load
//   (K1 = (1<<rest)-1); a final horizontal add into AX.
//
// minIndexAVX2(v) and minIndexAVX512(v): two passes. Pass one finds the
//   smallest value with 4 independent vector accumulators (Y0..Y3 or
//   Z0..Z3); AVX2 has no 64-bit signed min so it is VPCMPGTQ + VBLENDVPD.
//   The lanes are folded and the minimum broadcast (Y5/Z5). Pass two looks
//   for the first element equal to it, which is the lowest index of the
//   minimum, and stops there. AVX2 covers a length that is not a multiple
//   of 4 with one last vector overlapping the previous ones (harmless for a
//   minimum, and for a first match since the overlapped part had none);
//   lengths 0..3 run a scalar loop. AVX-512 uses masked loads for the rest.
//   SI = v, CX = len, DX = element index, AX = result.
//
// firstDueAVX2(deadlines, now) and firstDueAVX512: the first d <= now.
//   AVX2 compares now+1 > d (VPCMPGTQ is the only ordered compare it has;
//   now == MaxInt64 makes everything due and is answered up front); 16
//   elements a step OR-ed into one VPTEST, then the step is searched for
//   the first lane set. AVX-512 folds 32 elements a step with VPMINSQ
//   and compares the minimum once, now >= min (VPCMPQ predicate 5, NLT,
//   into K1; one mask test a step keeps the mask ports free), then
//   compares the 4 vectors of the step that hit one by one.
//   SI = deadlines, CX = len, DX = element index, Y0/Z0 = broadcast bound.

#include "textflag.h"

#define MAXINT64 $0x7fffffffffffffff

// RESTMASK sets K1 to (1<<R9)-1, the lanes of a last partial zmm (R9 in
// 1..7). It uses AX and R10 and keeps CX.
#define RESTMASK \
	MOVQ  CX, R10 \
	MOVQ  R9, CX  \
	MOVL  $1, AX  \
	SHLL  CX, AX  \
	DECL  AX      \
	KMOVW AX, K1  \
	MOVQ  R10, CX

// func selectBMI2(words []uint64, k int) int
TEXT ·selectBMI2(SB), NOSPLIT, $0-40
	MOVQ words_base+0(FP), SI
	MOVQ words_len+8(FP), CX
	MOVQ k+24(FP), DX
	XORL AX, AX
	MOVQ CX, BX
	ANDQ $-4, BX

sel_block:
	CMPQ    AX, BX
	JAE     sel_word
	POPCNTQ 0(SI)(AX*8), R8
	POPCNTQ 8(SI)(AX*8), R9
	POPCNTQ 16(SI)(AX*8), R10
	POPCNTQ 24(SI)(AX*8), R11
	ADDQ    R9, R8
	ADDQ    R11, R10
	ADDQ    R10, R8
	CMPQ    DX, R8
	JB      sel_word       // the bit is in this block
	SUBQ    R8, DX
	ADDQ    $4, AX
	JMP     sel_block

sel_word:
	CMPQ    AX, CX
	JAE     sel_none
	MOVQ    (SI)(AX*8), R8
	POPCNTQ R8, R9
	CMPQ    DX, R9
	JB      sel_found
	SUBQ    R9, DX
	INCQ    AX
	JMP     sel_word

sel_found:
	MOVL   $1, R10
	SHLXQ  DX, R10, R10    // 1 << k
	PDEPQ  R8, R10, R10    // the k-th set bit of the word, alone
	TZCNTQ R10, R10
	SHLQ   $6, AX
	ADDQ   R10, AX
	MOVQ   AX, ret+32(FP)
	RET

sel_none:
	MOVQ $-1, ret+32(FP)
	RET

// func popCountPOPCNT(words []uint64) int
TEXT ·popCountPOPCNT(SB), NOSPLIT, $0-32
	MOVQ words_base+0(FP), SI
	MOVQ words_len+8(FP), CX
	XORL AX, AX
	XORL DX, DX
	XORL R12, R12
	XORL R13, R13
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   pc_tail

pc_loop4:
	POPCNTQ 0(SI), R8
	POPCNTQ 8(SI), R9
	POPCNTQ 16(SI), R10
	POPCNTQ 24(SI), R11
	ADDQ    R8, AX
	ADDQ    R9, DX
	ADDQ    R10, R12
	ADDQ    R11, R13
	ADDQ    $32, SI
	DECQ    BX
	JNZ     pc_loop4
	ADDQ    DX, AX
	ADDQ    R13, R12
	ADDQ    R12, AX

pc_tail:
	ANDQ $3, CX
	JZ   pc_done

pc_loop1:
	POPCNTQ (SI), R8
	ADDQ    R8, AX
	ADDQ    $8, SI
	DECQ    CX
	JNZ     pc_loop1

pc_done:
	MOVQ AX, ret+24(FP)
	RET

// func popCountAVX512(words []uint64) int
TEXT ·popCountAVX512(SB), NOSPLIT, $0-32
	MOVQ   words_base+0(FP), SI
	MOVQ   words_len+8(FP), CX
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	MOVQ   CX, BX
	SHRQ   $5, BX
	JZ     pcz_8

pcz_loop32:
	VPOPCNTQ 0(SI), Z4
	VPOPCNTQ 64(SI), Z5
	VPOPCNTQ 128(SI), Z6
	VPOPCNTQ 192(SI), Z7
	VPADDQ   Z4, Z0, Z0
	VPADDQ   Z5, Z1, Z1
	VPADDQ   Z6, Z2, Z2
	VPADDQ   Z7, Z3, Z3
	ADDQ     $256, SI
	DECQ     BX
	JNZ      pcz_loop32

pcz_8:
	ANDQ $31, CX

pcz_loop8:
	CMPQ     CX, $8
	JB       pcz_rest
	VPOPCNTQ (SI), Z4
	VPADDQ   Z4, Z0, Z0
	ADDQ     $64, SI
	SUBQ     $8, CX
	JMP      pcz_loop8

pcz_rest:
	TESTQ       CX, CX
	JZ          pcz_reduce
	MOVL        $1, AX
	SHLL        CX, AX
	DECL        AX
	KMOVW       AX, K1
	VMOVDQU64.Z (SI), K1, Z4
	VPOPCNTQ    Z4, Z4
	VPADDQ      Z4, Z1, Z1

pcz_reduce:
	VPADDQ        Z1, Z0, Z0
	VPADDQ        Z3, Z2, Z2
	VPADDQ        Z2, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDQ        Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPADDQ        X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VPADDQ        X1, X0, X0
	VMOVQ         X0, AX
	VZEROUPPER
	MOVQ          AX, ret+24(FP)
	RET

// func minIndexAVX2(v []int64) int
TEXT ·minIndexAVX2(SB), NOSPLIT, $0-32
	MOVQ v_base+0(FP), SI
	MOVQ v_len+8(FP), CX
	CMPQ CX, $4
	JB   mi2_small

	// Pass one: the minimum.
	MOVQ         MAXINT64, AX
	MOVQ         AX, X0
	VPBROADCASTQ X0, Y0
	VMOVDQA      Y0, Y1
	VMOVDQA      Y0, Y2
	VMOVDQA      Y0, Y3
	XORL         DX, DX
	MOVQ         CX, BX
	ANDQ         $-16, BX

mi2_min16:
	CMPQ      DX, BX
	JAE       mi2_min4
	VMOVDQU   0(SI)(DX*8), Y4
	VMOVDQU   32(SI)(DX*8), Y5
	VMOVDQU   64(SI)(DX*8), Y6
	VMOVDQU   96(SI)(DX*8), Y7
	VPCMPGTQ  Y4, Y0, Y8      // Y8 = Y0 > Y4
	VPCMPGTQ  Y5, Y1, Y9
	VPCMPGTQ  Y6, Y2, Y10
	VPCMPGTQ  Y7, Y3, Y11
	VBLENDVPD Y8, Y4, Y0, Y0  // Y0 = Y8 ? Y4 : Y0
	VBLENDVPD Y9, Y5, Y1, Y1
	VBLENDVPD Y10, Y6, Y2, Y2
	VBLENDVPD Y11, Y7, Y3, Y3
	ADDQ      $16, DX
	JMP       mi2_min16

mi2_min4:
	MOVQ CX, BX
	ANDQ $-4, BX

mi2_min4_loop:
	CMPQ      DX, BX
	JAE       mi2_min_last
	VMOVDQU   (SI)(DX*8), Y4
	VPCMPGTQ  Y4, Y0, Y8
	VBLENDVPD Y8, Y4, Y0, Y0
	ADDQ      $4, DX
	JMP       mi2_min4_loop

mi2_min_last:
	CMPQ      DX, CX
	JAE       mi2_fold
	VMOVDQU   -32(SI)(CX*8), Y4 // the last 4, overlapping
	VPCMPGTQ  Y4, Y1, Y8
	VBLENDVPD Y8, Y4, Y1, Y1

mi2_fold:
	VPCMPGTQ     Y1, Y0, Y8
	VBLENDVPD    Y8, Y1, Y0, Y0
	VPCMPGTQ     Y3, Y2, Y8
	VBLENDVPD    Y8, Y3, Y2, Y2
	VPCMPGTQ     Y2, Y0, Y8
	VBLENDVPD    Y8, Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPCMPGTQ     X1, X0, X8
	VBLENDVPD    X8, X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPCMPGTQ     X1, X0, X8
	VBLENDVPD    X8, X1, X0, X0
	VPBROADCASTQ X0, Y5

	// Pass two: the first element equal to the minimum.
	XORL DX, DX
	MOVQ CX, BX
	ANDQ $-8, BX

mi2_eq8:
	CMPQ     DX, BX
	JAE      mi2_eq4
	VPCMPEQQ 0(SI)(DX*8), Y5, Y6
	VPCMPEQQ 32(SI)(DX*8), Y5, Y7
	VPOR     Y6, Y7, Y8
	VPTEST   Y8, Y8
	JNZ      mi2_hit8
	ADDQ     $8, DX
	JMP      mi2_eq8

mi2_hit8:
	VMOVMSKPD Y6, AX
	TESTL     AX, AX
	JNZ       mi2_found
	ADDQ      $4, DX
	VMOVMSKPD Y7, AX
	JMP       mi2_found

mi2_eq4:
	MOVQ CX, BX
	ANDQ $-4, BX
	CMPQ DX, BX
	JAE  mi2_eq_last
	VPCMPEQQ  (SI)(DX*8), Y5, Y6
	VMOVMSKPD Y6, AX
	TESTL     AX, AX
	JNZ       mi2_found
	ADDQ      $4, DX

mi2_eq_last:
	CMPQ      DX, CX
	JAE       mi2_none              // unreachable: the minimum is in v
	LEAQ      -4(CX), DX
	VPCMPEQQ  (SI)(DX*8), Y5, Y6
	VMOVMSKPD Y6, AX

mi2_found:
	BSFL AX, AX
	ADDQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

mi2_none:
	VZEROUPPER
	MOVQ $-1, ret+24(FP)
	RET

mi2_small:
	TESTQ CX, CX
	JZ    mi2_empty
	MOVQ  (SI), R8
	XORL  AX, AX
	MOVL  $1, DX

mi2_small_loop:
	CMPQ DX, CX
	JAE  mi2_small_done
	MOVQ (SI)(DX*8), R9
	CMPQ R9, R8
	JGE  mi2_small_next
	MOVQ R9, R8
	MOVQ DX, AX

mi2_small_next:
	INCQ DX
	JMP  mi2_small_loop

mi2_small_done:
	MOVQ AX, ret+24(FP)
	RET

mi2_empty:
	MOVQ $-1, ret+24(FP)
	RET

// func minIndexAVX512(v []int64) int
TEXT ·minIndexAVX512(SB), NOSPLIT, $0-32
	MOVQ  v_base+0(FP), SI
	MOVQ  v_len+8(FP), CX
	TESTQ CX, CX
	JZ    mi5_empty

	// Pass one: the minimum.
	MOVQ         MAXINT64, AX
	VPBROADCASTQ AX, Z0
	VMOVDQA64    Z0, Z1
	VMOVDQA64    Z0, Z2
	VMOVDQA64    Z0, Z3
	VMOVDQA64    Z0, Z4
	XORL         DX, DX
	MOVQ         CX, BX
	ANDQ         $-32, BX

mi5_min32:
	CMPQ    DX, BX
	JAE     mi5_min8
	VPMINSQ 0(SI)(DX*8), Z0, Z0
	VPMINSQ 64(SI)(DX*8), Z1, Z1
	VPMINSQ 128(SI)(DX*8), Z2, Z2
	VPMINSQ 192(SI)(DX*8), Z3, Z3
	ADDQ    $32, DX
	JMP     mi5_min32

mi5_min8:
	MOVQ CX, BX
	ANDQ $-8, BX

mi5_min8_loop:
	CMPQ    DX, BX
	JAE     mi5_min_rest
	VPMINSQ (SI)(DX*8), Z0, Z0
	ADDQ    $8, DX
	JMP     mi5_min8_loop

mi5_min_rest:
	MOVQ      CX, R9
	SUBQ      DX, R9
	JZ        mi5_fold
	RESTMASK
	VMOVDQU64 (SI)(DX*8), K1, Z4 // the rest over MaxInt64
	VPMINSQ   Z4, Z1, Z1

mi5_fold:
	VPMINSQ       Z1, Z0, Z0
	VPMINSQ       Z3, Z2, Z2
	VPMINSQ       Z2, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPMINSQ       Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPMINSQ       X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VPMINSQ       X1, X0, X0
	VPBROADCASTQ  X0, Z5

	// Pass two: the first element equal to the minimum.
	XORL DX, DX
	MOVQ CX, BX
	ANDQ $-32, BX

mi5_eq32:
	CMPQ     DX, BX
	JAE      mi5_eq8
	VPCMPEQQ 0(SI)(DX*8), Z5, K1
	VPCMPEQQ 64(SI)(DX*8), Z5, K2
	VPCMPEQQ 128(SI)(DX*8), Z5, K3
	VPCMPEQQ 192(SI)(DX*8), Z5, K4
	KORW     K1, K2, K5
	KORW     K3, K4, K6
	KORTESTW K5, K6
	JNZ      mi5_hit32
	ADDQ     $32, DX
	JMP      mi5_eq32

mi5_hit32:
	KMOVW K1, AX
	TESTL AX, AX
	JNZ   mi5_found
	ADDQ  $8, DX
	KMOVW K2, AX
	TESTL AX, AX
	JNZ   mi5_found
	ADDQ  $8, DX
	KMOVW K3, AX
	TESTL AX, AX
	JNZ   mi5_found
	ADDQ  $8, DX
	KMOVW K4, AX
	JMP   mi5_found

mi5_eq8:
	MOVQ CX, BX
	ANDQ $-8, BX

mi5_eq8_loop:
	CMPQ     DX, BX
	JAE      mi5_eq_rest
	VPCMPEQQ (SI)(DX*8), Z5, K1
	KMOVW    K1, AX
	TESTL    AX, AX
	JNZ      mi5_found
	ADDQ     $8, DX
	JMP      mi5_eq8_loop

mi5_eq_rest:
	MOVQ        CX, R9
	SUBQ        DX, R9
	JZ          mi5_none                // unreachable: the minimum is in v
	RESTMASK
	VMOVDQU64.Z (SI)(DX*8), K1, Z4
	VPCMPEQQ    Z4, Z5, K1, K2          // only the lanes inside v
	KMOVW       K2, AX
	TESTL       AX, AX
	JZ          mi5_none

mi5_found:
	BSFL AX, AX
	ADDQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

mi5_none:
	VZEROUPPER

mi5_empty:
	MOVQ $-1, ret+24(FP)
	RET

// func firstDueAVX2(deadlines []int64, now int64) int
TEXT ·firstDueAVX2(SB), NOSPLIT, $0-40
	MOVQ  deadlines_base+0(FP), SI
	MOVQ  deadlines_len+8(FP), CX
	MOVQ  now+24(FP), R8
	TESTQ CX, CX
	JZ    fd2_none
	MOVQ  MAXINT64, AX
	CMPQ  R8, AX
	JEQ   fd2_first       // every deadline is <= MaxInt64
	CMPQ  CX, $4
	JB    fd2_small

	LEAQ         1(R8), AX
	MOVQ         AX, X0
	VPBROADCASTQ X0, Y0    // now+1 > d  <=>  d <= now
	XORL         DX, DX
	MOVQ         CX, BX
	ANDQ         $-16, BX

fd2_loop16:
	CMPQ     DX, BX
	JAE      fd2_loop4
	VPCMPGTQ 0(SI)(DX*8), Y0, Y1
	VPCMPGTQ 32(SI)(DX*8), Y0, Y2
	VPCMPGTQ 64(SI)(DX*8), Y0, Y3
	VPCMPGTQ 96(SI)(DX*8), Y0, Y4
	VPOR     Y1, Y2, Y5
	VPOR     Y3, Y4, Y6
	VPOR     Y5, Y6, Y5
	VPTEST   Y5, Y5
	JNZ      fd2_hit16
	ADDQ     $16, DX
	JMP      fd2_loop16

fd2_hit16:
	VMOVMSKPD Y1, AX
	TESTL     AX, AX
	JNZ       fd2_found
	ADDQ      $4, DX
	VMOVMSKPD Y2, AX
	TESTL     AX, AX
	JNZ       fd2_found
	ADDQ      $4, DX
	VMOVMSKPD Y3, AX
	TESTL     AX, AX
	JNZ       fd2_found
	ADDQ      $4, DX
	VMOVMSKPD Y4, AX
	JMP       fd2_found

fd2_loop4:
	MOVQ CX, BX
	ANDQ $-4, BX

fd2_loop4_body:
	CMPQ      DX, BX
	JAE       fd2_last
	VPCMPGTQ  (SI)(DX*8), Y0, Y1
	VMOVMSKPD Y1, AX
	TESTL     AX, AX
	JNZ       fd2_found
	ADDQ      $4, DX
	JMP       fd2_loop4_body

fd2_last:
	CMPQ      DX, CX
	JAE       fd2_vnone
	LEAQ      -4(CX), DX          // the last 4, overlapping
	VPCMPGTQ  (SI)(DX*8), Y0, Y1
	VMOVMSKPD Y1, AX
	TESTL     AX, AX
	JZ        fd2_vnone

fd2_found:
	BSFL AX, AX
	ADDQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET

fd2_vnone:
	VZEROUPPER

fd2_none:
	MOVQ $-1, ret+32(FP)
	RET

fd2_first:
	MOVQ $0, ret+32(FP)
	RET

fd2_small:
	XORL DX, DX

fd2_small_loop:
	CMPQ DX, CX
	JAE  fd2_none
	CMPQ (SI)(DX*8), R8
	JLE  fd2_small_hit
	INCQ DX
	JMP  fd2_small_loop

fd2_small_hit:
	MOVQ DX, ret+32(FP)
	RET

// func firstDueAVX512(deadlines []int64, now int64) int
TEXT ·firstDueAVX512(SB), NOSPLIT, $0-40
	MOVQ         deadlines_base+0(FP), SI
	MOVQ         deadlines_len+8(FP), CX
	MOVQ         now+24(FP), AX
	TESTQ        CX, CX
	JZ           fd5_none
	VPBROADCASTQ AX, Z0
	XORL         DX, DX
	MOVQ         CX, BX
	ANDQ         $-32, BX

fd5_loop32:
	CMPQ      DX, BX
	JAE       fd5_loop8
	VMOVDQU64 0(SI)(DX*8), Z1
	VMOVDQU64 128(SI)(DX*8), Z2
	VPMINSQ   64(SI)(DX*8), Z1, Z1
	VPMINSQ   192(SI)(DX*8), Z2, Z2
	VPMINSQ   Z2, Z1, Z1
	VPCMPQ    $5, Z1, Z0, K1       // some d of the 32 <= now?
	KORTESTW  K1, K1
	JNZ       fd5_hit32
	ADDQ      $32, DX
	JMP       fd5_loop32

fd5_hit32:
	VPCMPQ $5, 0(SI)(DX*8), Z0, K1   // K1 = now >= d
	VPCMPQ $5, 64(SI)(DX*8), Z0, K2
	VPCMPQ $5, 128(SI)(DX*8), Z0, K3
	VPCMPQ $5, 192(SI)(DX*8), Z0, K4
	KMOVW K1, AX
	TESTL AX, AX
	JNZ   fd5_found
	ADDQ  $8, DX
	KMOVW K2, AX
	TESTL AX, AX
	JNZ   fd5_found
	ADDQ  $8, DX
	KMOVW K3, AX
	TESTL AX, AX
	JNZ   fd5_found
	ADDQ  $8, DX
	KMOVW K4, AX
	JMP   fd5_found

fd5_loop8:
	MOVQ CX, BX
	ANDQ $-8, BX

fd5_loop8_body:
	CMPQ   DX, BX
	JAE    fd5_rest
	VPCMPQ $5, (SI)(DX*8), Z0, K1
	KMOVW  K1, AX
	TESTL  AX, AX
	JNZ    fd5_found
	ADDQ   $8, DX
	JMP    fd5_loop8_body

fd5_rest:
	MOVQ        CX, R9
	SUBQ        DX, R9
	JZ          fd5_vnone
	RESTMASK
	VMOVDQU64.Z (SI)(DX*8), K1, Z4
	VPCMPQ      $5, Z4, Z0, K1, K2    // only the lanes inside deadlines
	KMOVW       K2, AX
	TESTL       AX, AX
	JZ          fd5_vnone

fd5_found:
	BSFL AX, AX
	ADDQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET

fd5_vnone:
	VZEROUPPER

fd5_none:
	MOVQ $-1, ret+32(FP)
	RET
