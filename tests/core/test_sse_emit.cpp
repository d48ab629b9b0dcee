// Unit tests of the SSE/SSE2 emitters (frontend/emit_sse.cpp): every form the
// family claims translates (the host assembler accepts it), register-only
// forms run as the very same host instruction, legacy 16-byte memory operands
// get the alignment-checking probe, unavailable SSE raises an exception, and
// MMX/VEX forms are refused (the translator raises #UD).
//
// Links the CPU core (hayate_dep), not just the board-side base.
#include "frontend/emit_sse.h"
#include "frontend/emit_table.h"
#include "jit/block_cache.h"
#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace {

using namespace hayate;
using namespace asmjit;

struct Case {
    const char* text;
    std::vector<uint8_t> bytes;
};

const Case kCases64[] = {
    {"movaps xmm0, xmm1", {0x0f, 0x28, 0xc1}},
    {"movaps xmm2, [rax]", {0x0f, 0x28, 0x10}},
    {"movaps [rsp+8], xmm3", {0x0f, 0x29, 0x5c, 0x24, 0x08}},
    {"movups xmm4, [rbx+rcx*4+16]", {0x0f, 0x10, 0x64, 0x8b, 0x10}},
    {"movapd xmm5, [rdx]", {0x66, 0x0f, 0x28, 0x2a}},
    {"movupd [rsi], xmm6", {0x66, 0x0f, 0x11, 0x36}},
    {"movdqa xmm9, [r8]", {0x66, 0x45, 0x0f, 0x6f, 0x08}},
    {"movdqu [r12], xmm15", {0xf3, 0x45, 0x0f, 0x7f, 0x3c, 0x24}},
    {"movdqa xmm10, [r13+r14*2+0x40]", {0x66, 0x47, 0x0f, 0x6f, 0x54, 0x75, 0x40}},
    {"movss xmm0, [rax]", {0xf3, 0x0f, 0x10, 0x00}},
    {"movss [rax], xmm0", {0xf3, 0x0f, 0x11, 0x00}},
    {"movss xmm1, xmm2", {0xf3, 0x0f, 0x10, 0xca}},
    {"movd xmm0, eax", {0x66, 0x0f, 0x6e, 0xc0}},
    {"movd eax, xmm3", {0x66, 0x0f, 0x7e, 0xd8}},
    {"movd xmm1, [rax]", {0x66, 0x0f, 0x6e, 0x08}},
    {"movd [rax], xmm1", {0x66, 0x0f, 0x7e, 0x08}},
    {"movd r13d, xmm2", {0x66, 0x41, 0x0f, 0x7e, 0xd5}},
    {"movd xmm2, r14d", {0x66, 0x41, 0x0f, 0x6e, 0xd6}},
    {"movq xmm0, rax", {0x66, 0x48, 0x0f, 0x6e, 0xc0}},
    {"movq rax, xmm0", {0x66, 0x48, 0x0f, 0x7e, 0xc0}},
    {"movq xmm0, r12", {0x66, 0x49, 0x0f, 0x6e, 0xc4}},
    {"movq r15, xmm7", {0x66, 0x49, 0x0f, 0x7e, 0xff}},
    {"movq xmm1, xmm2", {0xf3, 0x0f, 0x7e, 0xca}},
    {"movq xmm1, [rax]", {0xf3, 0x0f, 0x7e, 0x08}},
    {"movq [rax], xmm1", {0x66, 0x0f, 0xd6, 0x08}},
    {"movlps xmm0, [rax]", {0x0f, 0x12, 0x00}},
    {"movlps [rax], xmm0", {0x0f, 0x13, 0x00}},
    {"movhps xmm0, [rax]", {0x0f, 0x16, 0x00}},
    {"movhps [rax], xmm0", {0x0f, 0x17, 0x00}},
    {"movlpd xmm0, [rax]", {0x66, 0x0f, 0x12, 0x00}},
    {"movhpd [rax], xmm0", {0x66, 0x0f, 0x17, 0x00}},
    {"movhlps xmm0, xmm1", {0x0f, 0x12, 0xc1}},
    {"movlhps xmm0, xmm1", {0x0f, 0x16, 0xc1}},
    {"movmskps eax, xmm1", {0x0f, 0x50, 0xc1}},
    {"movmskpd r12d, xmm1", {0x66, 0x44, 0x0f, 0x50, 0xe1}},
    {"pmovmskb ecx, xmm2", {0x66, 0x0f, 0xd7, 0xca}},
    {"pmovmskb r13d, xmm0", {0x66, 0x44, 0x0f, 0xd7, 0xe8}},
    {"movnti [rax], ecx", {0x0f, 0xc3, 0x08}},
    {"movnti [rax], r12", {0x4c, 0x0f, 0xc3, 0x20}},
    {"movnti [r12], r13d", {0x45, 0x0f, 0xc3, 0x2c, 0x24}},
    {"movntdq [rax], xmm0", {0x66, 0x0f, 0xe7, 0x00}},
    {"movntps [rax], xmm0", {0x0f, 0x2b, 0x00}},
    {"movntpd [rax], xmm0", {0x66, 0x0f, 0x2b, 0x00}},
    {"maskmovdqu xmm0, xmm1", {0x66, 0x0f, 0xf7, 0xc1}},
    {"addps xmm0, xmm1", {0x0f, 0x58, 0xc1}},
    {"addps xmm0, [rax]", {0x0f, 0x58, 0x00}},
    {"addss xmm0, [rax]", {0xf3, 0x0f, 0x58, 0x00}},
    {"addsd xmm8, xmm9", {0xf2, 0x45, 0x0f, 0x58, 0xc1}},
    {"addpd xmm0, xmm1", {0x66, 0x0f, 0x58, 0xc1}},
    {"subss xmm0, xmm1", {0xf3, 0x0f, 0x5c, 0xc1}},
    {"subps xmm0, xmm1", {0x0f, 0x5c, 0xc1}},
    {"subsd xmm0, [rax]", {0xf2, 0x0f, 0x5c, 0x00}},
    {"subpd xmm0, xmm1", {0x66, 0x0f, 0x5c, 0xc1}},
    {"mulss xmm0, xmm1", {0xf3, 0x0f, 0x59, 0xc1}},
    {"mulps xmm0, xmm1", {0x0f, 0x59, 0xc1}},
    {"mulsd xmm0, xmm1", {0xf2, 0x0f, 0x59, 0xc1}},
    {"mulpd xmm0, xmm1", {0x66, 0x0f, 0x59, 0xc1}},
    {"divss xmm0, xmm1", {0xf3, 0x0f, 0x5e, 0xc1}},
    {"divps xmm0, xmm1", {0x0f, 0x5e, 0xc1}},
    {"divsd xmm0, xmm1", {0xf2, 0x0f, 0x5e, 0xc1}},
    {"divpd xmm0, xmm1", {0x66, 0x0f, 0x5e, 0xc1}},
    {"minss xmm0, xmm1", {0xf3, 0x0f, 0x5d, 0xc1}},
    {"minps xmm0, xmm1", {0x0f, 0x5d, 0xc1}},
    {"minsd xmm0, xmm1", {0xf2, 0x0f, 0x5d, 0xc1}},
    {"minpd xmm0, xmm1", {0x66, 0x0f, 0x5d, 0xc1}},
    {"maxss xmm0, xmm1", {0xf3, 0x0f, 0x5f, 0xc1}},
    {"maxps xmm0, xmm1", {0x0f, 0x5f, 0xc1}},
    {"maxsd xmm0, xmm1", {0xf2, 0x0f, 0x5f, 0xc1}},
    {"maxpd xmm0, xmm1", {0x66, 0x0f, 0x5f, 0xc1}},
    {"sqrtss xmm0, xmm1", {0xf3, 0x0f, 0x51, 0xc1}},
    {"sqrtps xmm0, xmm1", {0x0f, 0x51, 0xc1}},
    {"sqrtsd xmm0, [rax]", {0xf2, 0x0f, 0x51, 0x00}},
    {"sqrtpd xmm0, xmm1", {0x66, 0x0f, 0x51, 0xc1}},
    {"rcpss xmm0, xmm1", {0xf3, 0x0f, 0x53, 0xc1}},
    {"rcpps xmm0, xmm1", {0x0f, 0x53, 0xc1}},
    {"rsqrtss xmm0, xmm1", {0xf3, 0x0f, 0x52, 0xc1}},
    {"rsqrtps xmm0, xmm1", {0x0f, 0x52, 0xc1}},
    {"andps xmm0, xmm1", {0x0f, 0x54, 0xc1}},
    {"andpd xmm0, xmm1", {0x66, 0x0f, 0x54, 0xc1}},
    {"andnps xmm0, xmm1", {0x0f, 0x55, 0xc1}},
    {"andnpd xmm0, xmm1", {0x66, 0x0f, 0x55, 0xc1}},
    {"orps xmm0, xmm1", {0x0f, 0x56, 0xc1}},
    {"orpd xmm0, xmm1", {0x66, 0x0f, 0x56, 0xc1}},
    {"xorps xmm0, xmm0", {0x0f, 0x57, 0xc0}},
    {"xorpd xmm0, xmm1", {0x66, 0x0f, 0x57, 0xc1}},
    {"cmpps xmm0, xmm1, 1", {0x0f, 0xc2, 0xc1, 0x01}},
    {"cmpss xmm0, [rax], 2", {0xf3, 0x0f, 0xc2, 0x00, 0x02}},
    {"cmppd xmm0, xmm1, 4", {0x66, 0x0f, 0xc2, 0xc1, 0x04}},
    {"comiss xmm0, xmm1", {0x0f, 0x2f, 0xc1}},
    {"comisd xmm0, [rax]", {0x66, 0x0f, 0x2f, 0x00}},
    {"ucomiss xmm0, xmm1", {0x0f, 0x2e, 0xc1}},
    {"ucomisd xmm0, xmm1", {0x66, 0x0f, 0x2e, 0xc1}},
    {"cvtsi2ss xmm0, eax", {0xf3, 0x0f, 0x2a, 0xc0}},
    {"cvtsi2sd xmm1, r12", {0xf2, 0x49, 0x0f, 0x2a, 0xcc}},
    {"cvtsi2sd xmm1, rax", {0xf2, 0x48, 0x0f, 0x2a, 0xc8}},
    {"cvtsi2sd xmm1, dword ptr [rax]", {0xf2, 0x0f, 0x2a, 0x08}},
    {"cvtsi2ss xmm0, qword ptr [rax]", {0xf3, 0x48, 0x0f, 0x2a, 0x00}},
    {"cvtsi2sd xmm3, r14d", {0xf2, 0x41, 0x0f, 0x2a, 0xde}},
    {"cvtss2si eax, xmm0", {0xf3, 0x0f, 0x2d, 0xc0}},
    {"cvtsd2si rax, xmm1", {0xf2, 0x48, 0x0f, 0x2d, 0xc1}},
    {"cvttss2si r12d, xmm0", {0xf3, 0x44, 0x0f, 0x2c, 0xe0}},
    {"cvttsd2si r13, xmm1", {0xf2, 0x4c, 0x0f, 0x2c, 0xe9}},
    {"cvttsd2si eax, qword ptr [rax]", {0xf2, 0x0f, 0x2c, 0x00}},
    {"cvtss2sd xmm0, xmm1", {0xf3, 0x0f, 0x5a, 0xc1}},
    {"cvtsd2ss xmm0, xmm1", {0xf2, 0x0f, 0x5a, 0xc1}},
    {"cvtps2pd xmm0, [rax]", {0x0f, 0x5a, 0x00}},
    {"cvtpd2ps xmm0, xmm1", {0x66, 0x0f, 0x5a, 0xc1}},
    {"cvtdq2ps xmm0, xmm1", {0x0f, 0x5b, 0xc1}},
    {"cvtps2dq xmm0, xmm1", {0x66, 0x0f, 0x5b, 0xc1}},
    {"cvttps2dq xmm0, xmm1", {0xf3, 0x0f, 0x5b, 0xc1}},
    {"cvtdq2pd xmm0, [rax]", {0xf3, 0x0f, 0xe6, 0x00}},
    {"cvtpd2dq xmm0, xmm1", {0xf2, 0x0f, 0xe6, 0xc1}},
    {"cvttpd2dq xmm0, xmm1", {0x66, 0x0f, 0xe6, 0xc1}},
    {"shufps xmm0, xmm1, 0x1b", {0x0f, 0xc6, 0xc1, 0x1b}},
    {"shufpd xmm0, xmm1, 1", {0x66, 0x0f, 0xc6, 0xc1, 0x01}},
    {"unpcklps xmm0, xmm1", {0x0f, 0x14, 0xc1}},
    {"unpckhps xmm0, xmm1", {0x0f, 0x15, 0xc1}},
    {"unpcklpd xmm0, xmm1", {0x66, 0x0f, 0x14, 0xc1}},
    {"unpckhpd xmm0, xmm1", {0x66, 0x0f, 0x15, 0xc1}},
    {"pshufd xmm0, [rax], 0x4e", {0x66, 0x0f, 0x70, 0x00, 0x4e}},
    {"pshuflw xmm0, xmm1, 0x1b", {0xf2, 0x0f, 0x70, 0xc1, 0x1b}},
    {"pshufhw xmm0, xmm1, 0x1b", {0xf3, 0x0f, 0x70, 0xc1, 0x1b}},
    {"punpcklbw xmm0, xmm1", {0x66, 0x0f, 0x60, 0xc1}},
    {"punpcklwd xmm0, xmm1", {0x66, 0x0f, 0x61, 0xc1}},
    {"punpckldq xmm0, xmm1", {0x66, 0x0f, 0x62, 0xc1}},
    {"punpcklqdq xmm0, xmm1", {0x66, 0x0f, 0x6c, 0xc1}},
    {"punpckhbw xmm0, xmm1", {0x66, 0x0f, 0x68, 0xc1}},
    {"punpckhwd xmm0, xmm1", {0x66, 0x0f, 0x69, 0xc1}},
    {"punpckhdq xmm0, xmm1", {0x66, 0x0f, 0x6a, 0xc1}},
    {"punpckhqdq xmm0, xmm1", {0x66, 0x0f, 0x6d, 0xc1}},
    {"paddb xmm0, xmm1", {0x66, 0x0f, 0xfc, 0xc1}},
    {"paddw xmm0, xmm1", {0x66, 0x0f, 0xfd, 0xc1}},
    {"paddd xmm0, xmm1", {0x66, 0x0f, 0xfe, 0xc1}},
    {"paddq xmm0, [rax]", {0x66, 0x0f, 0xd4, 0x00}},
    {"psubb xmm0, xmm1", {0x66, 0x0f, 0xf8, 0xc1}},
    {"psubw xmm0, xmm1", {0x66, 0x0f, 0xf9, 0xc1}},
    {"psubd xmm0, xmm1", {0x66, 0x0f, 0xfa, 0xc1}},
    {"psubq xmm0, xmm1", {0x66, 0x0f, 0xfb, 0xc1}},
    {"paddsb xmm0, xmm1", {0x66, 0x0f, 0xec, 0xc1}},
    {"paddsw xmm0, xmm1", {0x66, 0x0f, 0xed, 0xc1}},
    {"paddusb xmm0, xmm1", {0x66, 0x0f, 0xdc, 0xc1}},
    {"paddusw xmm0, xmm1", {0x66, 0x0f, 0xdd, 0xc1}},
    {"psubsb xmm0, xmm1", {0x66, 0x0f, 0xe8, 0xc1}},
    {"psubsw xmm0, xmm1", {0x66, 0x0f, 0xe9, 0xc1}},
    {"psubusb xmm0, xmm1", {0x66, 0x0f, 0xd8, 0xc1}},
    {"psubusw xmm0, xmm1", {0x66, 0x0f, 0xd9, 0xc1}},
    {"pmullw xmm0, xmm1", {0x66, 0x0f, 0xd5, 0xc1}},
    {"pmulhw xmm0, xmm1", {0x66, 0x0f, 0xe5, 0xc1}},
    {"pmulhuw xmm0, xmm1", {0x66, 0x0f, 0xe4, 0xc1}},
    {"pmuludq xmm0, xmm1", {0x66, 0x0f, 0xf4, 0xc1}},
    {"pmaddwd xmm0, xmm1", {0x66, 0x0f, 0xf5, 0xc1}},
    {"pavgb xmm0, xmm1", {0x66, 0x0f, 0xe0, 0xc1}},
    {"pavgw xmm0, xmm1", {0x66, 0x0f, 0xe3, 0xc1}},
    {"pmaxub xmm0, xmm1", {0x66, 0x0f, 0xde, 0xc1}},
    {"pminub xmm0, xmm1", {0x66, 0x0f, 0xda, 0xc1}},
    {"pmaxsw xmm0, xmm1", {0x66, 0x0f, 0xee, 0xc1}},
    {"pminsw xmm0, xmm1", {0x66, 0x0f, 0xea, 0xc1}},
    {"psadbw xmm0, xmm1", {0x66, 0x0f, 0xf6, 0xc1}},
    {"pand xmm0, xmm1", {0x66, 0x0f, 0xdb, 0xc1}},
    {"pandn xmm0, xmm1", {0x66, 0x0f, 0xdf, 0xc1}},
    {"por xmm0, xmm1", {0x66, 0x0f, 0xeb, 0xc1}},
    {"pxor xmm0, xmm1", {0x66, 0x0f, 0xef, 0xc1}},
    {"pcmpeqb xmm0, xmm1", {0x66, 0x0f, 0x74, 0xc1}},
    {"pcmpeqw xmm0, xmm1", {0x66, 0x0f, 0x75, 0xc1}},
    {"pcmpeqd xmm0, xmm1", {0x66, 0x0f, 0x76, 0xc1}},
    {"pcmpgtb xmm0, xmm1", {0x66, 0x0f, 0x64, 0xc1}},
    {"pcmpgtw xmm0, xmm1", {0x66, 0x0f, 0x65, 0xc1}},
    {"pcmpgtd xmm0, xmm1", {0x66, 0x0f, 0x66, 0xc1}},
    {"packsswb xmm0, xmm1", {0x66, 0x0f, 0x63, 0xc1}},
    {"packssdw xmm0, xmm1", {0x66, 0x0f, 0x6b, 0xc1}},
    {"packuswb xmm0, xmm1", {0x66, 0x0f, 0x67, 0xc1}},
    {"psllw xmm0, 3", {0x66, 0x0f, 0x71, 0xf0, 0x03}},
    {"psllw xmm0, xmm1", {0x66, 0x0f, 0xf1, 0xc1}},
    {"pslld xmm0, 3", {0x66, 0x0f, 0x72, 0xf0, 0x03}},
    {"psllq xmm0, xmm1", {0x66, 0x0f, 0xf3, 0xc1}},
    {"psrlw xmm0, 3", {0x66, 0x0f, 0x71, 0xd0, 0x03}},
    {"psrld xmm0, xmm1", {0x66, 0x0f, 0xd2, 0xc1}},
    {"psrlq xmm0, 63", {0x66, 0x0f, 0x73, 0xd0, 0x3f}},
    {"psraw xmm0, 3", {0x66, 0x0f, 0x71, 0xe0, 0x03}},
    {"psrad xmm1, [rax]", {0x66, 0x0f, 0xe2, 0x08}},
    {"pslldq xmm0, 4", {0x66, 0x0f, 0x73, 0xf8, 0x04}},
    {"psrldq xmm0, 8", {0x66, 0x0f, 0x73, 0xd8, 0x08}},
    {"pextrw eax, xmm1, 3", {0x66, 0x0f, 0xc5, 0xc1, 0x03}},
    {"pextrw r12d, xmm1, 3", {0x66, 0x44, 0x0f, 0xc5, 0xe1, 0x03}},
    {"pinsrw xmm0, eax, 2", {0x66, 0x0f, 0xc4, 0xc0, 0x02}},
    {"pinsrw xmm0, r13d, 2", {0x66, 0x41, 0x0f, 0xc4, 0xc5, 0x02}},
    {"pinsrw xmm0, word ptr [rax], 1", {0x66, 0x0f, 0xc4, 0x00, 0x01}},
    {"ldmxcsr [rax]", {0x0f, 0xae, 0x10}},
    {"stmxcsr [rsp+4]", {0x0f, 0xae, 0x5c, 0x24, 0x04}},
    {"lfence", {0x0f, 0xae, 0xe8}},
    {"sfence", {0x0f, 0xae, 0xf8}},
    {"mfence", {0x0f, 0xae, 0xf0}},
    {"prefetchnta [rax]", {0x0f, 0x18, 0x00}},
    {"prefetcht0 [rbx]", {0x0f, 0x18, 0x0b}},
    {"prefetcht1 [rcx]", {0x0f, 0x18, 0x11}},
    {"prefetcht2 [rdx]", {0x0f, 0x18, 0x1a}},
    {"prefetchw [rax]", {0x0f, 0x0d, 0x08}},
    {"clflush [rax]", {0x0f, 0xae, 0x38}},
    {"clflushopt [rax]", {0x66, 0x0f, 0xae, 0x38}},
    {"movsd xmm0, [rax]", {0xf2, 0x0f, 0x10, 0x00}},
    {"movsd xmm1, xmm2", {0xf2, 0x0f, 0x10, 0xca}},
    {"movsd [rax+rbx], xmm3", {0xf2, 0x0f, 0x11, 0x1c, 0x18}},
    {"cmpsd xmm0, xmm1, 3", {0xf2, 0x0f, 0xc2, 0xc1, 0x03}},
    {"cmpsd xmm0, [rax], 0", {0xf2, 0x0f, 0xc2, 0x00, 0x00}},
    {"cvtss2si eax, dword ptr [rax]", {0xf3, 0x0f, 0x2d, 0x00}},
    {"cvtsd2si rax, qword ptr [rbx+8]", {0xf2, 0x48, 0x0f, 0x2d, 0x43, 0x08}},
    {"cvtss2sd xmm0, dword ptr [rax]", {0xf3, 0x0f, 0x5a, 0x00}},
    {"cvtsd2ss xmm0, qword ptr [rax]", {0xf2, 0x0f, 0x5a, 0x00}},
    {"cvtpd2ps xmm0, [rax]", {0x66, 0x0f, 0x5a, 0x00}},
    {"cvttps2dq xmm0, [rax]", {0xf3, 0x0f, 0x5b, 0x00}},
    {"cvtdq2ps xmm0, [rax]", {0x0f, 0x5b, 0x00}},
    {"cvtpd2dq xmm0, [rax]", {0xf2, 0x0f, 0xe6, 0x00}},
    {"comiss xmm0, dword ptr [rax]", {0x0f, 0x2f, 0x00}},
    {"ucomisd xmm0, qword ptr [rax]", {0x66, 0x0f, 0x2e, 0x00}},
    {"rcpss xmm0, dword ptr [rax]", {0xf3, 0x0f, 0x53, 0x00}},
    {"rsqrtps xmm0, [rax]", {0x0f, 0x52, 0x00}},
    {"sqrtss xmm0, dword ptr [rax]", {0xf3, 0x0f, 0x51, 0x00}},
    {"cmpps xmm0, [rax], 7", {0x0f, 0xc2, 0x00, 0x07}},
    {"cmppd xmm0, [rax], 5", {0x66, 0x0f, 0xc2, 0x00, 0x05}},
    {"shufps xmm0, [rax], 0x44", {0x0f, 0xc6, 0x00, 0x44}},
    {"shufpd xmm0, [rax], 2", {0x66, 0x0f, 0xc6, 0x00, 0x02}},
    {"unpcklps xmm0, [rax]", {0x0f, 0x14, 0x00}},
    {"unpckhpd xmm0, [rax]", {0x66, 0x0f, 0x15, 0x00}},
    {"psadbw xmm0, [rax]", {0x66, 0x0f, 0xf6, 0x00}},
    {"pmuludq xmm0, [rax]", {0x66, 0x0f, 0xf4, 0x00}},
    {"packuswb xmm0, [rax]", {0x66, 0x0f, 0x67, 0x00}},
    {"punpcklqdq xmm0, [rax]", {0x66, 0x0f, 0x6c, 0x00}},
    {"pcmpeqd xmm0, [rax]", {0x66, 0x0f, 0x76, 0x00}},
    {"pand xmm0, [rax]", {0x66, 0x0f, 0xdb, 0x00}},
    {"pxor xmm15, [rip+0x100]", {0x66, 0x44, 0x0f, 0xef, 0x3d, 0x00, 0x01, 0x00, 0x00}},
    {"andps xmm0, [rax]", {0x0f, 0x54, 0x00}},
    {"xorpd xmm0, [rax]", {0x66, 0x0f, 0x57, 0x00}},
    {"minsd xmm0, qword ptr [rax]", {0xf2, 0x0f, 0x5d, 0x00}},
    {"maxss xmm0, dword ptr [rax]", {0xf3, 0x0f, 0x5f, 0x00}},
    {"movlpd [rax], xmm0", {0x66, 0x0f, 0x13, 0x00}},
    {"movhpd xmm0, [rax]", {0x66, 0x0f, 0x16, 0x00}},
    {"movapd [rax], xmm9", {0x66, 0x44, 0x0f, 0x29, 0x08}},
    {"movups [rax+rbx*8], xmm2", {0x0f, 0x11, 0x14, 0xd8}},
    {"pinsrw xmm0, r12d, 7", {0x66, 0x41, 0x0f, 0xc4, 0xc4, 0x07}},
    {"movd xmm0, r12d", {0x66, 0x41, 0x0f, 0x6e, 0xc4}},
    {"movq r12, xmm0", {0x66, 0x49, 0x0f, 0x7e, 0xc4}},
    {"movq xmm0, qword ptr [r12+r13*8]", {0xf3, 0x43, 0x0f, 0x7e, 0x04, 0xec}},
    {"cvtsi2ss xmm2, r15d", {0xf3, 0x41, 0x0f, 0x2a, 0xd7}},
    {"cvttss2si r14, xmm3", {0xf3, 0x4c, 0x0f, 0x2c, 0xf3}},
    {"pshufhw xmm0, [rax], 1", {0xf3, 0x0f, 0x70, 0x00, 0x01}},
    {"addsd xmm0, qword ptr fs:[rax]", {0x64, 0xf2, 0x0f, 0x58, 0x00}},
    {"movdqu xmm0, gs:[rcx]", {0x65, 0xf3, 0x0f, 0x6f, 0x01}},
};

const Case kCases32[] = {
    {"movaps xmm0, [eax]", {0x0f, 0x28, 0x00}},
    {"movups xmm7, [esi+ecx*8+4]", {0x0f, 0x10, 0x7c, 0xce, 0x04}},
    {"cvtsi2sd xmm0, eax", {0xf2, 0x0f, 0x2a, 0xc0}},
    {"movd eax, xmm0", {0x66, 0x0f, 0x7e, 0xc0}},
    {"pextrw edx, xmm1, 7", {0x66, 0x0f, 0xc5, 0xd1, 0x07}},
    {"maskmovdqu xmm2, xmm3", {0x66, 0x0f, 0xf7, 0xd3}},
    {"ldmxcsr [ebp-4]", {0x0f, 0xae, 0x55, 0xfc}},
};

const Case kCases16[] = {
    {"addps xmm0, [bx+si]", {0x0f, 0x58, 0x00}},
    {"movaps xmm1, [ebx]", {0x67, 0x0f, 0x28, 0x0b}},
    {"movups xmm2, [bp+4]", {0x0f, 0x10, 0x56, 0x04}},
    {"movd eax, xmm0", {0x66, 0x0f, 0x7e, 0xc0}},
    {"cvtsi2sd xmm0, dword ptr [di]", {0xf2, 0x0f, 0x2a, 0x05}},
    {"ldmxcsr [bx]", {0x0f, 0xae, 0x17}},
    {"stmxcsr [bx+2]", {0x0f, 0xae, 0x5f, 0x02}},
};

// Forms outside the family: MMX registers and VEX encodings.
const Case kMmx64[] = {
    {"paddb mm0, mm1", {0x0f, 0xfc, 0xc1}},
    {"movq mm0, [rax]", {0x0f, 0x6f, 0x00}},
    {"movd mm0, eax", {0x0f, 0x6e, 0xc0}},
    {"pmovmskb eax, mm1", {0x0f, 0xd7, 0xc1}},
    {"pextrw eax, mm1, 1", {0x0f, 0xc5, 0xc1, 0x01}},
    {"cvtpi2ps xmm0, mm1", {0x0f, 0x2a, 0xc1}},
};

constexpr uint32_t kMode64 = mode::kCode64 | mode::kLongMode | mode::kProtected | mode::kFlat | mode::kSseOk;
constexpr uint32_t kMode32 = mode::kCode32 | mode::kStack32 | mode::kProtected | mode::kFlat | mode::kSseOk;
constexpr uint32_t kMode16 = mode::kCode16 | mode::kFlat | mode::kSseOk; // real mode

class Recorder : public ErrorHandler {
  public:
    void handleError(Error, const char* message, BaseEmitter*) override {
        if (!failed) first = message;
        failed = true;
    }
    bool failed = false;
    std::string first;
};

struct Emitted {
    bool handled = false;     // the emitter returned true
    bool block_ended = false; // it raised an exception
    bool asm_error = false;
    std::string error;
    std::vector<uint8_t> code;
    size_t inline_size = 0; // bytes before the deferred cold code
    size_t trap_sites = 0;  // host instructions that may raise a SIMD FP exception
    Insn insn;
};

constexpr uint64_t kCodeBase = 0x40000000;

EmitFn emitter_for(ZydisMnemonic m) {
    // MOVSD/CMPSD belong to the string family, which forwards XMM forms here.
    if (m == ZYDIS_MNEMONIC_MOVSD) return &emit_sse_movsd;
    if (m == ZYDIS_MNEMONIC_CMPSD) return &emit_sse_cmpsd;
    return emit_table()[m].fn;
}

Emitted emit_one(unsigned bits, const std::vector<uint8_t>& bytes, uint32_t mode) {
    Emitted e;
    Decoder decoder(bits);
    REQUIRE(decoder.decode(bytes.data(), bytes.size(), 0x1000, e.insn));
    REQUIRE(e.insn.length() == bytes.size());
    e.insn.flags_live_after = kZyArithFlags; // worst case: flags must survive

    CodeHolder code;
    code.init(Environment::host(), kCodeBase);
    Recorder rec;
    code.setErrorHandler(&rec);
    x86::Assembler a(&code);
    jit::Thunks thunks;
    static const uint8_t* const kThunk = reinterpret_cast<const uint8_t*>(uintptr_t(kCodeBase + 0x100000));
    thunks.save_state = thunks.load_state = thunks.exit_save = thunks.exit_nosave = kThunk;
    jit::Block block;
    EmitContext c(a, thunks, &block, mode);
    c.insn = &e.insn;
    EmitFn fn = emitter_for(e.insn.mnemonic());
    e.handled = fn && fn(c);
    e.block_ended = c.block_ended;
    e.inline_size = code.textSection()->buffer().size(); // cold code (slow paths, trap stubs) follows
    c.emit_deferred();
    e.trap_sites = c.host_trap_labels.size();
    e.asm_error = rec.failed;
    e.error = rec.first;
    const CodeBuffer& buf = code.textSection()->buffer();
    e.code.assign(buf.data(), buf.data() + buf.size());
    return e;
}

bool has_memory_operand(const Insn& in) {
    for (unsigned i = 0; i < in.zi.operand_count; i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) return true;
    return false;
}

bool uses_state_gpr(const Insn& in) {
    for (unsigned i = 0; i < in.visible_operands(); i++) {
        GuestOperand g;
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && lower_gpr(in.ops[i].reg.value, g) && g.in_state)
            return true;
    }
    return false;
}

// The host instructions of generated code, as text.
std::vector<std::string> disassemble(const std::vector<uint8_t>& code) {
    std::vector<std::string> out;
    Decoder d(64);
    size_t off = 0;
    while (off < code.size()) {
        Insn in;
        if (!d.decode(code.data() + off, code.size() - off, kCodeBase + off, in)) {
            out.push_back("(bad)");
            break;
        }
        out.push_back(in.text());
        off += in.length();
    }
    return out;
}

// The inline TLB probe checks alignment with `test T0, ~(0x1000 - size)`.
bool has_alignment_probe(const std::vector<uint8_t>& code) {
    Decoder d(64);
    size_t off = 0;
    while (off < code.size()) {
        Insn in;
        if (!d.decode(code.data() + off, code.size() - off, kCodeBase + off, in)) return false;
        if (in.mnemonic() == ZYDIS_MNEMONIC_TEST && in.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            in.ops[0].reg.value == ZYDIS_REGISTER_R14 && in.ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
            (in.ops[1].imm.value.u & 0xfff) == 0x00f)
            return true;
        off += in.length();
    }
    return false;
}

void check_accepted(unsigned bits, const Case& k, uint32_t mode) {
    INFO(k.text);
    Emitted e = emit_one(bits, k.bytes, mode);
    INFO(e.insn.text());
    INFO(e.error);
    CHECK(e.handled);
    CHECK_FALSE(e.block_ended);
    CHECK_FALSE(e.asm_error);
    // Only prefetches emit nothing.
    const bool hint = e.insn.zi.meta.category == ZYDIS_CATEGORY_PREFETCH;
    CHECK(e.code.empty() == hint);
    // Register forms whose registers are all host registers run unchanged.
    if (bits == 64 && !has_memory_operand(e.insn) && !uses_state_gpr(e.insn)) {
        std::vector<std::string> host = disassemble({e.code.begin(), e.code.begin() + long(e.inline_size)});
        REQUIRE(host.size() == 1);
        CHECK(host[0] == e.insn.text());
    }
}

} // namespace

TEST_CASE("sse: every claimed 64-bit form translates", "[sse]") {
    for (const Case& k : kCases64) check_accepted(64, k, kMode64);
}

// An unmasked SIMD floating-point exception traps on the host instruction:
// arithmetic, compares and conversions mark it (jit/host_traps.h), moves,
// logic and integer SIMD cannot trap and mark nothing. A memory form has two
// copies of the instruction (inline and on the bounce path), both marked.
TEST_CASE("sse: SIMD floating-point forms mark their host trap sites", "[sse]") {
    struct Expect {
        const char* text;
        std::vector<uint8_t> bytes;
        size_t sites;
    };
    const Expect cases[] = {
        {"addps xmm0, xmm1", {0x0f, 0x58, 0xc1}, 1},
        {"divsd xmm2, [rax]", {0xf2, 0x0f, 0x5e, 0x10}, 2},
        {"sqrtss xmm3, xmm4", {0xf3, 0x0f, 0x51, 0xdc}, 1},
        {"ucomisd xmm0, xmm1", {0x66, 0x0f, 0x2e, 0xc1}, 1},
        {"cvttsd2si eax, xmm1", {0xf2, 0x0f, 0x2c, 0xc1}, 1},
        {"cmpps xmm0, xmm1, 1", {0x0f, 0xc2, 0xc1, 0x01}, 1},
        {"movaps xmm0, xmm1", {0x0f, 0x28, 0xc1}, 0},
        {"xorps xmm0, xmm1", {0x0f, 0x57, 0xc1}, 0},
        {"paddd xmm0, [rax]", {0x66, 0x0f, 0xfe, 0x00}, 0},
        {"cvtdq2pd xmm0, xmm1", {0xf3, 0x0f, 0xe6, 0xc1}, 0},
    };
    for (const Expect& k : cases) {
        INFO(k.text);
        Emitted e = emit_one(64, k.bytes, kMode64);
        CHECK(e.handled);
        CHECK(e.trap_sites == k.sites);
    }
}

TEST_CASE("sse: 32-bit forms translate", "[sse]") {
    for (const Case& k : kCases32) check_accepted(32, k, kMode32);
}

TEST_CASE("sse: 16-bit forms translate", "[sse]") {
    for (const Case& k : kCases16) check_accepted(16, k, kMode16);
}

TEST_CASE("sse: 64-bit mask destinations use the 32-bit host form", "[sse]") {
    Emitted e = emit_one(64, {0x48, 0x0f, 0x50, 0xc1}, kMode64); // movmskps rax, xmm1
    CHECK(e.handled);
    CHECK(disassemble(e.code) == std::vector<std::string>{"movmskps eax, xmm1"});
    Emitted f = emit_one(64, {0x4c, 0x0f, 0x50, 0xe1}, kMode64); // movmskps r12, xmm1 (r12 in CpuState)
    CHECK(f.handled);
    CHECK_FALSE(f.asm_error);
    Emitted g = emit_one(64, {0x66, 0x48, 0x0f, 0x50, 0xc1}, kMode64); // movmskpd rax, xmm1
    CHECK(g.handled);
    CHECK(disassemble(g.code) == std::vector<std::string>{"movmskpd eax, xmm1"});
}

TEST_CASE("sse: MMX forms translate; VEX forms raise #UD without OS-enabled AVX state", "[sse]") {
    for (const Case& k : kMmx64) {
        INFO(k.text);
        Emitted e = emit_one(64, k.bytes, kMode64);
        CHECK(e.handled);
        CHECK_FALSE(e.asm_error);
        CHECK_FALSE(e.block_ended);
    }
    // vaddps xmm0, xmm1, xmm2 in a mode without kAvxOk (CR4.OSXSAVE / XCR0 AVX clear).
    Emitted v = emit_one(64, {0xc5, 0xf0, 0x58, 0xc2}, kMode64);
    CHECK(v.handled);
    CHECK(v.block_ended);
}

TEST_CASE("sse: legacy 16-byte memory operands are alignment-checked", "[sse]") {
    struct Expect {
        std::vector<uint8_t> bytes;
        bool aligned;
    };
    const Expect expects[] = {
        {{0x0f, 0x28, 0x10}, true},              // movaps xmm2, [rax]
        {{0x0f, 0x29, 0x5c, 0x24, 0x08}, true},  // movaps [rsp+8], xmm3
        {{0x66, 0x0f, 0xfe, 0x00}, true},        // paddd xmm0, [rax]
        {{0x0f, 0x58, 0x00}, true},              // addps xmm0, [rax]
        {{0x66, 0x0f, 0x70, 0x00, 0x4e}, true},  // pshufd xmm0, [rax], 0x4e
        {{0x66, 0x0f, 0xe7, 0x00}, true},        // movntdq [rax], xmm0
        {{0x0f, 0x10, 0x64, 0x8b, 0x10}, false}, // movups xmm4, [rbx+rcx*4+16]
        {{0x66, 0x0f, 0x11, 0x36}, false},       // movupd [rsi], xmm6
        {{0xf3, 0x0f, 0x58, 0x00}, false},       // addss xmm0, [rax] (scalar)
        {{0x0f, 0x16, 0x00}, false},             // movhps xmm0, [rax] (64-bit)
        {{0xf3, 0x0f, 0xe6, 0x00}, false},       // cvtdq2pd xmm0, [rax] (64-bit)
        {{0x66, 0x0f, 0xf7, 0xc1}, false},       // maskmovdqu xmm0, xmm1
    };
    for (const Expect& x : expects) {
        Emitted e = emit_one(64, x.bytes, kMode64);
        INFO(e.insn.text());
        REQUIRE(e.handled);
        CHECK(has_alignment_probe(e.code) == x.aligned);
    }
}

TEST_CASE("sse: unavailable SSE raises an exception and ends the block", "[sse]") {
    const std::vector<uint8_t> addps = {0x0f, 0x58, 0xc1};
    for (uint32_t extra :
         {0u, uint32_t(mode::kFpuTs), uint32_t(mode::kFpuEm), uint32_t(mode::kFpuEm | mode::kFpuTs)}) {
        Emitted e = emit_one(64, addps, (kMode64 & ~mode::kSseOk) | extra);
        CHECK(e.handled);
        CHECK(e.block_ended);
        CHECK_FALSE(e.asm_error);
    }
    // Fences, hints, MOVNTI and CLFLUSH do not depend on CR0/CR4.
    const std::vector<std::vector<uint8_t>> any_mode = {
        {0x0f, 0xae, 0xe8}, // lfence
        {0x0f, 0x18, 0x00}, // prefetchnta [rax]
        {0x0f, 0xc3, 0x08}, // movnti [rax], ecx
        {0x0f, 0xae, 0x38}, // clflush [rax]
    };
    for (const auto& bytes : any_mode) {
        Emitted e = emit_one(64, bytes, (kMode64 & ~mode::kSseOk) | mode::kFpuTs);
        INFO(e.insn.text());
        CHECK(e.handled);
        CHECK_FALSE(e.block_ended);
    }
}

TEST_CASE("sse: MOVSD/CMPSD string forms are not ours", "[sse]") {
    Emitted e = emit_one(64, {0xa5}, kMode64); // movsd (string)
    CHECK_FALSE(is_sse_form(e.insn));
    Emitted f = emit_one(64, {0xf2, 0x0f, 0x10, 0xca}, kMode64); // movsd xmm1, xmm2
    CHECK(is_sse_form(f.insn));
}
