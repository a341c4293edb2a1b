"""Generated receipts with their ground truth: what was rendered is what a reader should find.

`make_corpus(n, seed)` is deterministic by seed. Six layouts (café, restaurant with tip, hotel folio, taxi, fuel,
online order as a text PDF), DejaVu fonts from Debian's fonts-dejavu-core, five currencies, each printed with its
own date and number conventions; the images are degraded the way phone photos are (rotation up to 5°, blur, dim
low-contrast paper, JPEG noise).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFilter, ImageFont

LAYOUTS = ("cafe", "restaurant", "hotel", "taxi", "fuel", "online")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF")
FONT_NAMES = ("DejaVuSans", "DejaVuSansMono", "DejaVuSerif")

MERCHANTS = {
    "cafe": ["Blue Door Coffee", "Café Lumière", "Bean There", "Kaffeehaus Sommer", "The Daily Grind", "Tazza Rossa"],
    "restaurant": ["Trattoria Milano", "Le Petit Zinc", "Golden Dragon", "The Oak Tavern", "Sakura Grill", "Zum Löwen"],
    "hotel": ["Hotel Adler", "Grand Harbour Hotel", "Parkview Inn", "Hôtel du Lac", "Kyoto Garden Hotel"],
    "taxi": ["City Cab Co", "Yellow Line Taxi", "Taxi Zentrale", "Black Cab London", "Green Taxi Geneva"],
    "fuel": ["Shell Station 214", "Aral Tankstelle", "Esso Express", "Migrol Service", "Eneos Shinjuku"],
    "online": ["Northwind Supplies", "Pixel Parts Online", "Bürobedarf24", "Paperclip & Co", "Tanaka Denki Store"],
}
ITEMS = {
    "cafe": ["Flat White", "Croissant", "Espresso", "Cappuccino", "Muffin", "Chai Latte", "Bagel"],
    "restaurant": ["Pasta Carbonara", "Caesar Salad", "Ribeye Steak", "House Wine", "Tiramisu", "Sparkling Water"],
    "hotel": ["Room night", "Breakfast", "Minibar", "City tax", "Parking"],
    "taxi": ["Base fare", "Distance", "Waiting time", "Airport surcharge"],
    "fuel": ["Unleaded 95", "Diesel", "Car wash", "Snack"],
    "online": ["USB-C cable", "Printer paper A4", "Desk lamp", "Notebook", "Toner cartridge"],
}
EUR_TAX_WORDS = ("VAT", "MwSt", "TVA", "IVA")
STREETS = ["12 High Street", "Bahnhofstrasse 5", "221 Market St", "3 Rue de Rivoli", "1-2-3 Shinjuku", "8 King's Rd"]
CITIES = ["London SW1A 1AA", "8001 Zürich", "San Francisco, CA 94103", "75001 Paris", "Tokyo 160-0022", "10115 Berlin"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Truth:
    merchant: str
    date: date
    total: Decimal
    tax: Decimal | None
    tax_rate: Decimal | None
    currency: str


@dataclass(frozen=True)
class GeneratedReceipt:
    name: str
    layout: str
    data: bytes
    mimetype: str
    filename: str
    base_currency: str
    truth: Truth
    lines: tuple[str, ...]


@cache
def font_path(name: str) -> str:
    for root in (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts")):
        found = sorted(root.rglob(f"{name}.ttf")) if root.is_dir() else []
        if found:
            return str(found[0])
    raise FileNotFoundError(f"{name}.ttf is not installed (Debian: apt-get install fonts-dejavu-core)")


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(name), size)


def quantize(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))


def fmt_amount(value: Decimal, currency: str, style: str) -> str:
    """`style`: "dot" 1,234.56, "comma" 1.234,56, "swiss" 1'234.56."""
    if currency == "JPY":
        return f"{int(value):,}"
    whole, frac = f"{value:.2f}".split(".")
    grouped = f"{int(whole):,}"
    if style == "comma":
        return grouped.replace(",", ".") + "," + frac
    if style == "swiss":
        return grouped.replace(",", "'") + "." + frac
    return grouped + "." + frac


def fmt_date(day: date, currency: str, rng: random.Random) -> str:
    d, m, y = day.day, day.month, day.year
    if rng.random() < 0.12:
        return day.isoformat()
    if currency == "USD":
        return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y % 100:02d}", f"{MONTHS[m - 1]} {d}, {y}"])
    if currency == "JPY":
        return rng.choice([f"{y}/{m:02d}/{d:02d}", f"{y}.{m:02d}.{d:02d}"])
    if currency in ("EUR", "CHF"):
        return rng.choice([f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}", f"{d}. {MONTHS[m - 1]} {y}"])
    return rng.choice([f"{d:02d}/{m:02d}/{y}", f"{d:02d} {MONTHS[m - 1]} {y}", f"{d:02d}/{m:02d}/{y % 100:02d}"])


@dataclass(frozen=True)
class Line:
    left: str
    right: str = ""
    size: float = 1.0
    bold: bool = False
    center: bool = False


def compose(layout: str, currency: str, rng: random.Random) -> tuple[list[Line], Truth, bool]:
    """The receipt's lines and its truth; the flag says whether amounts are bare (no currency anywhere)."""
    merchant = rng.choice(MERCHANTS[layout])
    day = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 700))
    style = {"EUR": rng.choice(["comma", "comma", "dot"]), "CHF": rng.choice(["swiss", "dot"])}.get(currency, "dot")
    bare = rng.random() < 0.15
    mark = rng.choice(["symbol", "code", "symbol"]) if not bare else "none"
    symbols = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": rng.choice(["CHF ", "Fr. "])}

    def money(value: Decimal, *, force: bool = False) -> str:
        text = fmt_amount(value, currency, style)
        if mark == "symbol" and (force or rng.random() < 0.5):
            sym = symbols[currency]
            return f"{text} €" if sym == "€" and style == "comma" else f"{sym}{text}"
        return text

    scale = Decimal(150) if currency == "JPY" else Decimal(1)
    low, high = {"cafe": (3, 9), "restaurant": (12, 45), "hotel": (90, 260), "taxi": (8, 60)}.get(layout, (5, 80))
    items = [
        (rng.choice(ITEMS[layout]), quantize(Decimal(rng.randint(low * 100, high * 100)) / 100 * scale, currency))
        for _ in range(rng.randint(2 if layout != "taxi" else 1, 5 if layout != "taxi" else 3))
    ]
    subtotal = sum((price for _, price in items), Decimal(0))
    if currency == "USD":
        tax_word, rate = "Sales Tax", Decimal(rng.choice(["8.875", "7.25", "6"]))
    elif currency == "EUR":
        tax_word, rate = rng.choice(EUR_TAX_WORDS), Decimal(rng.choice(["19", "20", "7", "10"]))
    elif currency == "GBP":
        tax_word, rate = "VAT", Decimal("20")
    elif currency == "CHF":
        tax_word, rate = rng.choice(["MWST", "TVA"]), Decimal(rng.choice(["8.1", "2.6"]))
    else:
        tax_word, rate = rng.choice(["Tax", "Consumption Tax"]), Decimal(rng.choice(["10", "8"]))
    inclusive = currency != "USD"  # prices outside the US include the tax
    if inclusive:
        tax = quantize(subtotal * rate / (100 + rate), currency)
        total = subtotal
    else:
        tax = quantize(subtotal * rate / 100, currency)
        total = subtotal + tax
    tip = Decimal(0)
    if layout in ("restaurant", "taxi") and rng.random() < 0.7:
        tip = quantize(total * Decimal(rng.choice(["0.10", "0.15", "0.18", "0.20"])), currency)
    grand = total + tip

    lines: list[Line] = []
    if rng.random() < 0.3:
        lines.append(Line(rng.choice(["RECEIPT", "TAX INVOICE", "Sales Receipt", "INVOICE"]), center=True))
    lines.append(Line(merchant.upper() if rng.random() < 0.5 else merchant, size=1.5, bold=True, center=True))
    lines.append(Line(rng.choice(STREETS), center=True))
    lines.append(Line(rng.choice(CITIES), center=True))
    if rng.random() < 0.6:
        lines.append(
            Line(rng.choice(["Tel. +44 20 7946 0958", "Tel: (415) 555-0134", "+41 44 668 18 00"]), center=True)
        )
    if rng.random() < 0.4:
        lines.append(Line("www." + "".join(ch for ch in merchant.lower() if ch.isalnum())[:14] + ".com", center=True))
    lines.append(Line(""))
    when = fmt_date(day, currency, rng)
    clock = f"{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}"
    if layout == "hotel":
        lines.append(Line(f"Folio No. {rng.randint(10000, 99999)}"))
        lines.append(Line(f"Date: {when}", f"Room {rng.randint(101, 520)}"))
    elif layout == "online":
        lines.append(Line(f"Order #{rng.randint(100000, 999999)}"))
        lines.append(Line(f"Order date: {when}"))
    else:
        lines.append(Line(rng.choice(["Date: ", "", ""]) + when, clock))
    if layout == "taxi":
        lines.append(Line(f"Cab #{rng.randint(100, 999)}", f"{rng.randint(2, 40)}.{rng.randint(0, 9)} km"))
    if layout == "fuel":
        lines.append(Line(f"Pump {rng.randint(1, 12)}"))
    lines.append(Line("-" * 32))
    for name, price in items:
        qty = f"{rng.randint(1, 3)} x " if layout in ("cafe", "restaurant") and rng.random() < 0.2 else ""
        lines.append(Line(qty + name, money(price)))
    lines.append(Line("-" * 32))
    lines.append(Line(rng.choice(["Subtotal", "SUBTOTAL", "Sub-total"]), money(subtotal)))
    if inclusive:
        lines.append(Line(f"incl. {tax_word} {rate}%", money(tax)))
    else:
        lines.append(Line(f"{tax_word} {rate}%", money(tax)))
    if tip:
        lines.append(Line(rng.choice(["Tip", "Gratuity", "TIP"]), money(tip)))
    total_word = {
        "hotel": ["Balance Due", "TOTAL", "Total Amount"],
        "online": ["Order Total", "Grand Total", "TOTAL"],
    }.get(layout, ["TOTAL", "Total", "AMOUNT DUE", "Grand Total"])
    if currency == "EUR" and tax_word == "TVA":
        total_word = ["TOTAL TTC"]
    if currency in ("EUR", "CHF") and tax_word in ("MwSt", "MWST") and rng.random() < 0.6:
        total_word = ["SUMME", "Total"]
    label = rng.choice(total_word)
    if mark == "code":
        label = f"{label} {currency}"
        lines.append(Line(label, fmt_amount(grand, currency, style), size=1.2, bold=True))
    else:
        lines.append(Line(label, money(grand, force=True), size=1.2, bold=True))
    if layout in ("cafe", "fuel", "taxi") and rng.random() < 0.5:
        step = Decimal(1000) if currency == "JPY" else Decimal(10)
        tendered = (grand / step).to_integral_value(rounding="ROUND_CEILING") * step
        if tendered == grand:
            tendered += step
        lines.append(Line(rng.choice(["Cash", "CASH", "Tendered"]), money(tendered)))
        lines.append(Line(rng.choice(["Change", "CHANGE"]), money(tendered - grand)))
    elif rng.random() < 0.7:
        lines.append(Line(rng.choice(["VISA ****", "Mastercard ****", "Card ****"]) + f"{rng.randint(1000, 9999)}"))
    lines.append(Line(""))
    lines.append(
        Line(rng.choice(["Thank you!", "Thank you for your visit", "Danke!", "Merci et à bientôt"]), center=True)
    )
    truth = Truth(merchant, day, grand, tax, rate, currency)
    return lines, truth, bare


def render_image(lines: list[Line], rng: random.Random) -> Image.Image:
    family = rng.choice(FONT_NAMES)
    base = rng.randint(22, 30)
    width = rng.randint(560, 760)
    margin = 30
    heights = [int(base * line.size * 1.45) for line in lines]
    canvas = Image.new("L", (width + 2 * margin, sum(heights) + 2 * margin), 255)
    draw = ImageDraw.Draw(canvas)
    y = margin
    for line, height in zip(lines, heights, strict=True):
        face = font(family + ("-Bold" if line.bold else ""), int(base * line.size))
        if line.center:
            text_width = draw.textlength(line.left, font=face)
            draw.text((margin + (width - text_width) / 2, y), line.left, fill=0, font=face)
        else:
            draw.text((margin, y), line.left, fill=0, font=face)
        if line.right:
            draw.text((margin + width - draw.textlength(line.right, font=face), y), line.right, fill=0, font=face)
        y += height
    return canvas


def degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    """Paper on a table, photographed: a tilt, a dim or washed-out exposure, some blur, some sensor noise."""
    low, high = rng.choice([(0, 255), (40, 215), (70, 190), (90, 235)])
    image = image.point(lambda v: low + v * (high - low) // 255)
    pad = 40
    table = rng.randint(max(0, low - 40), max(1, low))
    framed = Image.new("L", (image.width + 2 * pad, image.height + 2 * pad), table)
    framed.paste(image, (pad, pad))
    angle = rng.uniform(-5, 5)
    rotated = framed.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=table)
    radius = rng.choice([0, 0.4, 0.8, 1.2])
    if radius:
        rotated = rotated.filter(ImageFilter.GaussianBlur(radius))
    noise = Image.effect_noise(rotated.size, rng.choice([4, 10, 18]))
    rotated = Image.blend(rotated, noise, 0.08)
    return rotated.convert("RGB")


def render_pdf(lines: list[Line], rng: random.Random) -> bytes:
    pdf = FPDF(format="A4")
    family = rng.choice(FONT_NAMES)
    pdf.add_font(family, "", font_path(family))
    pdf.add_font(family, "B", font_path(family + "-Bold"))
    pdf.add_page()
    pdf.set_auto_page_break(auto=True, margin=15)
    for line in lines:
        size = 10 * line.size
        pdf.set_font(family, "B" if line.bold else "", size)
        height = size * 0.55
        if line.center:
            pdf.cell(0, height, line.left, align="C", new_x="LMARGIN", new_y="NEXT")
        elif line.right:
            pdf.cell(120, height, line.left)
            pdf.cell(0, height, line.right, align="R", new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.cell(0, height, line.left, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def encode(image: Image.Image, kind: str, rng: random.Random) -> tuple[bytes, str, str]:
    buffer = io.BytesIO()
    if kind == "heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
        image.save(buffer, format="HEIF", quality=rng.randint(60, 85))
        return buffer.getvalue(), "image/heic", "IMG_0001.HEIC"
    if kind == "png":
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "image/png", "receipt.png"
    image.save(buffer, format="JPEG", quality=rng.randint(35, 80))
    return buffer.getvalue(), "image/jpeg", "photo.jpg"


def make_receipt(index: int, seed: int, *, layout: str | None = None, currency: str | None = None) -> GeneratedReceipt:
    rng = random.Random(f"{seed}:{index}")
    layout = layout or LAYOUTS[index % len(LAYOUTS)]
    currency = currency or CURRENCIES[(index // len(LAYOUTS)) % len(CURRENCIES)]
    lines, truth, bare = compose(layout, currency, rng)
    base_currency = currency if bare else rng.choice(CURRENCIES)
    name = f"{index:04d}-{layout}-{currency}"
    if layout == "online":
        data, mimetype, filename = render_pdf(lines, rng), "application/pdf", "order.pdf"
    else:
        image = degrade(render_image(lines, rng), rng)
        kind = "heic" if index % 17 == 3 else rng.choice(["jpeg", "jpeg", "jpeg", "png"])
        data, mimetype, filename = encode(image, kind, rng)
    text = tuple(f"{line.left}  {line.right}".strip() for line in lines)
    return GeneratedReceipt(name, layout, data, mimetype, filename, base_currency, truth, text)


def make_corpus(count: int, seed: int = 15) -> list[GeneratedReceipt]:
    return [make_receipt(index, seed) for index in range(count)]
