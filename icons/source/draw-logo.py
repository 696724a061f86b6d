# Draws Hearth's logo: a flame over two crossed logs on a warm rounded square.
#
# The icon set next to this folder is generated from its output, so a change to the logo is:
#   python3 -m pip install pillow   # in a venv
#   python3 icons/source/draw-logo.py
#   ui/node_modules/.bin/tauri icon icons/source/hearth-1024.png -o icons
#   rm -r icons/android icons/ios   # desktop only
from pathlib import Path

from PIL import Image, ImageDraw

S = 4  # supersampling factor for smooth edges
N = 1024 * S

def bez(p0, p1, p2, p3, steps=64):
    pts = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        x = u**3*p0[0] + 3*u*u*t*p1[0] + 3*u*t*t*p2[0] + t**3*p3[0]
        y = u**3*p0[1] + 3*u*u*t*p1[1] + 3*u*t*t*p2[1] + t**3*p3[1]
        pts.append((x * S, y * S))
    return pts

def path(start, segs):
    pts, cur = [], start
    for c1, c2, end in segs:
        pts += bez(cur, c1, c2, end)
        cur = end
    return pts

def flame(cx, base, w, h, lean=0.0):
    """A flame silhouette: round bottom of half-width w at y=base, tip h above it."""
    tip = (cx + lean * w, base - h)
    return path((cx, base), [
        ((cx + w * 1.05, base), (cx + w * 1.15, base - h * 0.45), (cx + w * 0.55, base - h * 0.62)),
        ((cx + w * 0.30, base - h * 0.72), (cx + w * 0.35, base - h * 0.86), tip),
        ((cx - w * 0.20, base - h * 0.85), (cx - w * 0.85, base - h * 0.62), (cx - w * 0.95, base - h * 0.38)),
        ((cx - w * 1.10, base - h * 0.10), (cx - w * 0.80, base), (cx, base)),
    ])

img = Image.new("RGBA", (N, N), (0, 0, 0, 0))
d = ImageDraw.Draw(img)

# Background: rounded square with a vertical warm gradient.
bg = Image.new("RGBA", (N, N), (0, 0, 0, 0))
grad = Image.new("RGBA", (1, N))
top, bottom = (74, 38, 26), (30, 16, 12)
for y in range(N):
    t = y / (N - 1)
    grad.putpixel((0, y), tuple(int(top[i] * (1 - t) + bottom[i] * t) for i in range(3)) + (255,))
grad = grad.resize((N, N))
mask = Image.new("L", (N, N), 0)
ImageDraw.Draw(mask).rounded_rectangle((56 * S, 56 * S, 968 * S, 968 * S), radius=210 * S, fill=255)
img.paste(grad, (0, 0), mask)

# Hearth glow behind the fire.
glow = Image.new("RGBA", (N, N), (0, 0, 0, 0))
gd = ImageDraw.Draw(glow)
for r in range(330, 0, -6):
    a = int(70 * (1 - r / 330) ** 1.5)
    gd.ellipse(((512 - r) * S, (600 - r) * S, (512 + r) * S, (600 + r) * S), fill=(255, 140, 40, a))
img = Image.alpha_composite(img, Image.composite(glow, Image.new("RGBA", (N, N)), mask))
d = ImageDraw.Draw(img)

# Two crossed logs under the flame.
def log(angle):
    L = Image.new("RGBA", (N, N), (0, 0, 0, 0))
    ld = ImageDraw.Draw(L)
    ld.rounded_rectangle((262 * S, 752 * S, 762 * S, 828 * S), radius=38 * S, fill=(138, 84, 52, 255))
    ld.rounded_rectangle((262 * S, 752 * S, 762 * S, 778 * S), radius=13 * S, fill=(168, 108, 68, 255))
    ld.ellipse((700 * S, 752 * S, 776 * S, 828 * S), fill=(214, 160, 110, 255))
    ld.ellipse((722 * S, 774 * S, 754 * S, 806 * S), fill=(176, 120, 78, 255))
    return L.rotate(angle, center=(512 * S, 790 * S), resample=Image.BICUBIC)

img = Image.alpha_composite(img, log(-12))
img = Image.alpha_composite(img, log(-12).transpose(Image.FLIP_LEFT_RIGHT))
d = ImageDraw.Draw(img)

# Flame: three nested tongues, hot in the middle.
d.polygon(flame(512, 770, 230, 610, lean=0.12), fill=(236, 88, 32, 255))
d.polygon(flame(520, 770, 160, 440, lean=-0.10), fill=(250, 150, 40, 255))
d.polygon(flame(515, 770, 92, 250, lean=0.08), fill=(255, 222, 120, 255))

img = img.resize((1024, 1024), Image.LANCZOS)
img.save(Path(__file__).with_name("hearth-1024.png"))
