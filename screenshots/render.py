#!/usr/bin/env python3
"""Render a tmux `capture-pane -p -e` dump (text with ANSI colour escapes) to a PNG.

Usage: render.py INPUT.ansi OUTPUT.png [--cols N] [--rows N]

Used by screenshots/make.sh so that every screenshot in the README comes from the real
program in a real terminal. Needs Pillow and the DejaVu Sans Mono font (Debian's
fonts-dejavu-core).
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu/"]
SIZE = 15
BG = (24, 24, 27)
FG = (220, 220, 220)

# xterm's 16 colours.
BASE16 = [
    (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16),
    (36, 114, 200), (188, 63, 188), (17, 168, 205), (229, 229, 229),
    (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67),
    (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255),
]


def color256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def load_font(bold):
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    for d in FONT_DIRS:
        try:
            return ImageFont.truetype(d + name, SIZE)
        except OSError:
            continue
    return ImageFont.load_default()


SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def parse(text):
    """Yields rows of cells (char, fg, bg, bold, dim, reverse)."""
    rows = []
    fg, bg, bold, dim, rev = None, None, False, False, False
    for line in text.split("\n"):
        cells = []
        pos = 0
        for m in SGR.finditer(line):
            for ch in line[pos:m.start()]:
                cells.append((ch, fg, bg, bold, dim, rev))
            pos = m.end()
            codes = [int(c) if c else 0 for c in re.split("[;:]", m.group(1))] or [0]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0:
                    fg, bg, bold, dim, rev = None, None, False, False, False
                elif c == 1:
                    bold = True
                elif c == 2:
                    dim = True
                elif c == 7:
                    rev = True
                elif c == 22:
                    bold = dim = False
                elif c == 27:
                    rev = False
                elif 30 <= c <= 37:
                    fg = BASE16[c - 30]
                elif 90 <= c <= 97:
                    fg = BASE16[c - 90 + 8]
                elif 40 <= c <= 47:
                    bg = BASE16[c - 40]
                elif 100 <= c <= 107:
                    bg = BASE16[c - 100 + 8]
                elif c == 39:
                    fg = None
                elif c == 49:
                    bg = None
                elif c in (38, 48) and i + 1 < len(codes):
                    if codes[i + 1] == 5 and i + 2 < len(codes):
                        col = color256(codes[i + 2])
                        i += 2
                    elif codes[i + 1] == 2 and i + 4 < len(codes):
                        col = tuple(codes[i + 2:i + 5])
                        i += 4
                    else:
                        col = None
                    if c == 38:
                        fg = col
                    else:
                        bg = col
                i += 1
        for ch in line[pos:]:
            cells.append((ch, fg, bg, bold, dim, rev))
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    src, dst = sys.argv[1], sys.argv[2]
    cols = int(sys.argv[sys.argv.index("--cols") + 1]) if "--cols" in sys.argv else None
    nrows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else None
    with open(src, encoding="utf-8", errors="replace") as f:
        rows = parse(f.read())
    cols = cols or max((len(r) for r in rows), default=80)
    nrows = nrows or len(rows)
    regular, bold_font = load_font(False), load_font(True)
    box = regular.getbbox("M")
    cw = int(regular.getlength("M"))
    ch = int((box[3] - box[1]) * 1.55) + 2
    pad = 10
    img = Image.new("RGB", (cols * cw + 2 * pad, nrows * ch + 2 * pad), BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows[:nrows]):
        for x, (c, fg, bg, bold, dim, rev) in enumerate(row[:cols]):
            f, b = fg or FG, bg or BG
            if rev:
                f, b = b, f
            if dim:
                f = tuple(int(v * 0.6 + BG[i] * 0.4) for i, v in enumerate(f))
            x0, y0 = pad + x * cw, pad + y * ch
            if b != BG:
                draw.rectangle([x0, y0, x0 + cw, y0 + ch], fill=b)
            if c.strip():
                draw.text((x0, y0 + 2), c, font=bold_font if bold else regular, fill=f)
    img.save(dst)


if __name__ == "__main__":
    main()
