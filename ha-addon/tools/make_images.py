"""Draws ha-addon/icon.png (128x128) and ha-addon/logo.png (250x100).

    python3 -m pip install pillow
    python3 ha-addon/tools/make_images.py

The logo's lettering uses DejaVu Sans Bold (Debian: fonts-dejavu-core).
Shapes are drawn at 4x and scaled down, for smooth edges.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent.parent
SCALE = 4
TOP = (3, 169, 244)  # Home Assistant blue
BOTTOM = (13, 71, 161)
WHITE = (255, 255, 255, 255)
TEXT = (33, 33, 33, 255)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def shade(t: float) -> tuple:
    """The gradient's colour at height t (0 top, 1 bottom)."""
    return tuple(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM)) + (255,)


def badge(size: int) -> Image.Image:
    """A rounded square with a vertical gradient and a white git-branch mark."""
    s = size * SCALE
    gradient = Image.new("RGBA", (s, s))
    px = gradient.load()
    for y in range(s):
        row = shade(y / (s - 1))
        for x in range(s):
            px[x, y] = row
    mask = Image.new("L", (s, s), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 5, fill=255)
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    img.paste(gradient, (0, 0), mask)

    d = ImageDraw.Draw(img)
    u = s / 128  # drawing units: a 128-unit grid
    line = round(9 * u)
    node = 13 * u
    trunk_x, top_y, bottom_y = 44 * u, 30 * u, 98 * u
    branch_x, branch_y = 86 * u, 46 * u
    # The trunk, and the branch curving back into it.
    d.line((trunk_x, top_y, trunk_x, bottom_y), fill=WHITE, width=line)
    r = branch_x - trunk_x
    d.arc((trunk_x - r, branch_y - r, branch_x, branch_y + r), start=0, end=90, fill=WHITE, width=line)
    # Commits: hollow on the trunk's ends, solid at the branch head.
    for cx, cy in ((trunk_x, top_y), (trunk_x, bottom_y)):
        d.ellipse((cx - node, cy - node, cx + node, cy + node), fill=WHITE)
        inner = node - line
        d.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=shade(cy / (s - 1)))
    d.ellipse((branch_x - node, branch_y - node, branch_x + node, branch_y + node), fill=WHITE)
    return img.resize((size, size), Image.LANCZOS)


def icon() -> Image.Image:
    return badge(128)


def logo() -> Image.Image:
    w, h = 250, 100
    img = Image.new("RGBA", (w * SCALE, h * SCALE), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 30 * SCALE)
    x = 100 * SCALE
    d.text((x, 14 * SCALE), "GitOps", font=font, fill=TEXT)
    d.text((x, 52 * SCALE), "Bridge", font=font, fill=TEXT)
    img = img.resize((w, h), Image.LANCZOS)
    img.alpha_composite(badge(88), (2, 6))
    return img


if __name__ == "__main__":
    icon().save(HERE / "icon.png", optimize=True)
    logo().save(HERE / "logo.png", optimize=True)
