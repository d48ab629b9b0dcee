; Hayate's demo guest: a bare-metal multiboot kernel (a.out kludge, so nasm
; alone builds it) that greets on COM1, shows what the multiboot loader and
; CPUID report, and ends hayate through isa-debug-exit at port 0xf4 with
; value 0 (hayate exits with status 1).
;
; Run: hayate -nographic -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel demo.bin

bits 32
org 0x100000

MB_MAGIC     equ 0x1BADB002
MB_FLAGS     equ (1 << 16) | (1 << 1) ; address fields below; memory information wanted
MB_BOOTMAGIC equ 0x2BADB002
COM1         equ 0x3f8
DEBUG_EXIT   equ 0xf4

header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd (-(MB_MAGIC + MB_FLAGS)) & 0xffffffff
    dd header   ; header_addr
    dd header   ; load_addr: the file starts here
    dd load_end ; load_end_addr
    dd bss_end  ; bss_end_addr
    dd start    ; entry_addr

start:
    mov esp, stack_top
    mov [boot_magic], eax
    mov [boot_info], ebx

    mov esi, s_hello
    call puts

    ; --- what the boot loader handed over ---
    cmp dword [boot_magic], MB_BOOTMAGIC
    je .magic_ok
    mov esi, s_bad_magic
    call puts
    mov eax, [boot_magic]
    call put_hex
    call newline
    jmp .cpu
.magic_ok:
    mov ebx, [boot_info]
    test dword [ebx], 1 << 9 ; boot_loader_name
    jz .no_name
    mov esi, s_loader
    call puts
    mov esi, [ebx + 64]
    call puts
    call newline
.no_name:
    test dword [ebx], 1 << 2 ; cmdline
    jz .no_cmdline
    mov esi, s_cmdline
    call puts
    mov esi, [ebx + 16]
    call puts
    call newline
.no_cmdline:
    test dword [ebx], 1 << 0 ; mem_lower/mem_upper
    jz .cpu
    mov esi, s_memory
    call puts
    mov eax, [ebx + 4]
    call put_dec
    mov esi, s_kib_low
    call puts
    mov eax, [ebx + 8]
    add eax, 1024 ; mem_upper counts from 1 MiB
    shr eax, 10
    call put_dec
    mov esi, s_mib_total
    call puts

    ; --- the CPU, as CPUID describes it ---
.cpu:
    xor eax, eax
    cpuid
    mov [vendor], ebx
    mov [vendor + 4], edx
    mov [vendor + 8], ecx
    mov [max_leaf], eax
    mov esi, s_vendor
    call puts
    mov esi, vendor
    call puts
    mov esi, s_max_leaf
    call puts
    mov eax, [max_leaf]
    call put_hex
    call newline

    cmp dword [max_leaf], 1
    jb .brand
    mov eax, 1
    cpuid
    mov [features_ecx], ecx
    mov [features_edx], edx
    mov [signature], eax
    ; family = base family (+ extended family when base is 0xf)
    mov esi, s_family
    call puts
    mov eax, [signature]
    shr eax, 8
    and eax, 0xf
    mov ebx, eax
    cmp ebx, 0xf
    jne .family_done
    mov eax, [signature]
    shr eax, 20
    and eax, 0xff
    add eax, ebx
.family_done:
    mov [family], eax
    call put_dec
    ; model = base model (| extended model << 4 for families 6 and 15)
    mov esi, s_model
    call puts
    mov eax, [signature]
    shr eax, 4
    and eax, 0xf
    mov ebx, [family]
    cmp ebx, 6
    je .ext_model
    cmp ebx, 15
    jne .model_done
.ext_model:
    mov ecx, [signature]
    shr ecx, 12
    and ecx, 0xf0
    or eax, ecx
.model_done:
    call put_dec
    mov esi, s_stepping
    call puts
    mov eax, [signature]
    and eax, 0xf
    call put_dec
    call newline

    ; feature names, from a table of (register, bit, name)
    mov esi, s_features
    call puts
    mov edi, feature_table
.feature:
    movzx eax, byte [edi]
    cmp al, 0xff
    je .features_done
    movzx ecx, byte [edi + 1]
    mov edx, [features_edx]
    test eax, eax
    jz .have_reg
    mov edx, [features_ecx]
.have_reg:
    lea esi, [edi + 2]
    bt edx, ecx
    jnc .skip_name
    mov al, ' '
    call putc
    call puts ; esi ends past the name's terminator
    jmp .next_feature
.skip_name:
    lodsb
    test al, al
    jnz .skip_name
.next_feature:
    mov edi, esi
    jmp .feature
.features_done:
    call newline

.brand:
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000004
    jb .long_mode
    mov edi, brand
    mov esi, 0x80000002
.brand_leaf:
    mov eax, esi
    cpuid
    mov [edi], eax
    mov [edi + 4], ebx
    mov [edi + 8], ecx
    mov [edi + 12], edx
    add edi, 16
    inc esi
    cmp esi, 0x80000005
    jne .brand_leaf
    mov esi, s_brand
    call puts
    mov esi, brand
.trim:
    cmp byte [esi], ' '
    jne .trimmed
    inc esi
    jmp .trim
.trimmed:
    call puts
    call newline

.long_mode:
    mov eax, 0x80000000
    cpuid
    mov esi, s_lm_no
    cmp eax, 0x80000001
    jb .lm_print
    mov eax, 0x80000001
    cpuid
    bt edx, 29
    jnc .lm_print
    mov esi, s_lm_yes
.lm_print:
    call puts

    mov esi, s_bye
    call puts
    ; isa-debug-exit: hayate ends with status (0 << 1) | 1 = 1
    xor eax, eax
    out DEBUG_EXIT, al
    ; Only reached without the debug-exit device: stop here.
.halt:
    cli
    hlt
    jmp .halt

; --- serial output (COM1, polled) ---

; putc: al = byte; "\n" goes out as "\r\n"
putc:
    cmp al, 10
    jne .raw
    mov al, 13
    call .raw
    mov al, 10
.raw:
    push edx
    push eax
    mov dx, COM1 + 5 ; line status register
.wait:
    in al, dx
    test al, 0x20 ; transmitter holding register empty
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

; puts: esi = zero-terminated string; leaves esi past the terminator
puts:
    push eax
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    pop eax
    ret

newline:
    push eax
    mov al, 10
    call putc
    pop eax
    ret

; put_dec: eax = unsigned value
put_dec:
    push eax
    push ebx
    push ecx
    push edx
    mov ebx, 10
    xor ecx, ecx
.divide:
    xor edx, edx
    div ebx
    push edx
    inc ecx
    test eax, eax
    jnz .divide
.emit:
    pop eax
    add al, '0'
    call putc
    loop .emit
    pop edx
    pop ecx
    pop ebx
    pop eax
    ret

; put_hex: eax = value, printed as 0x and 8 digits
put_hex:
    push eax
    push ecx
    push edx
    mov edx, eax
    mov al, '0'
    call putc
    mov al, 'x'
    call putc
    mov ecx, 8
.digit:
    rol edx, 4
    mov eax, edx
    and eax, 0xf
    mov al, [hex_digits + eax]
    call putc
    loop .digit
    pop edx
    pop ecx
    pop eax
    ret

hex_digits:  db "0123456789abcdef"
s_hello:     db "Hello from the Hayate demo guest!", 10, 0
s_bad_magic: db "not booted by a multiboot loader: EAX=", 0
s_loader:    db "boot loader:  ", 0
s_cmdline:   db "command line: ", 0
s_memory:    db "memory:       ", 0
s_kib_low:   db " KiB low, ", 0
s_mib_total: db " MiB in all", 10, 0
s_vendor:    db "CPU vendor:   ", 0
s_max_leaf:  db ", highest CPUID leaf ", 0
s_family:    db "CPU family ", 0
s_model:     db ", model ", 0
s_stepping:  db ", stepping ", 0
s_features:  db "features:    ", 0
s_brand:     db "CPU name:     ", 0
s_lm_yes:    db "64-bit long mode: available", 10, 0
s_lm_no:     db "64-bit long mode: not available", 10, 0
s_bye:       db "Goodbye: leaving through isa-debug-exit.", 10, 0

; (0 = EDX, 1 = ECX of leaf 1), bit, name
feature_table:
    db 0, 0, "fpu", 0
    db 0, 4, "tsc", 0
    db 0, 5, "msr", 0
    db 0, 6, "pae", 0
    db 0, 8, "cx8", 0
    db 0, 9, "apic", 0
    db 0, 11, "sep", 0
    db 0, 13, "pge", 0
    db 0, 15, "cmov", 0
    db 0, 19, "clflush", 0
    db 0, 23, "mmx", 0
    db 0, 24, "fxsr", 0
    db 0, 25, "sse", 0
    db 0, 26, "sse2", 0
    db 1, 0, "sse3", 0
    db 1, 9, "ssse3", 0
    db 1, 13, "cx16", 0
    db 1, 19, "sse4.1", 0
    db 1, 20, "sse4.2", 0
    db 1, 23, "popcnt", 0
    db 1, 25, "aes", 0
    db 1, 26, "xsave", 0
    db 1, 28, "avx", 0
    db 1, 31, "hypervisor", 0
    db 0xff

load_end:

section .bss
alignb 16
boot_magic:   resd 1
boot_info:    resd 1
max_leaf:     resd 1
signature:    resd 1
family:       resd 1
features_ecx: resd 1
features_edx: resd 1
vendor:       resb 13
brand:        resb 49
alignb 16
stack:        resb 16384
stack_top:
bss_end:
