# micropython.const: folded constants in expressions, bit masks, module-level use
import micropython
from micropython import const

REG_CTRL = const(0x20)
REG_DATA = const(0x21)
BIT_EN = const(1 << 3)
BIT_IRQ = const(1 << 5)
MASK = const(BIT_EN | BIT_IRQ)
SIZE = const(16)
HALF = const(SIZE // 2)
_PRIVATE = const(123)

print(REG_CTRL, REG_DATA, BIT_EN, BIT_IRQ, MASK, SIZE, HALF, _PRIVATE)
regs = {REG_CTRL: 0, REG_DATA: 0}
def write(reg, val):
    regs[reg] = val & 0xFF
def set_bits(reg, bits):
    write(reg, regs[reg] | bits)
set_bits(REG_CTRL, BIT_EN)
set_bits(REG_CTRL, BIT_IRQ)
write(REG_DATA, 0x1FF)
print(sorted(regs.items()), regs[REG_CTRL] & MASK == MASK)
buf = [i * HALF for i in range(SIZE) if i % HALF == 0]
print(buf, micropython.const(7) * 6, const(-5) + SIZE)
