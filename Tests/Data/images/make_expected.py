#!/usr/bin/python3
"""Writes the test images of Tests/Data/images and what torchvision's PIL path makes of them.

Run once with Debian's python3-pil (PIL 9.4; torchvision itself is not packaged there, so its PIL code path
is written out below from torchvision 0.14's functional_pil / transforms): `python3 make_expected.py`.
Everything is deterministic. Outputs, all small:
  *.png *.jpg *.bmp       test images in the formats the decoder must read (made from one 24x32 source)
  unsupported.*           formats torchvision accepts by extension that the managed decoder does not read
  *.rgb                   expected 8-bit RGB pixels, HWC, rows top to bottom, raw bytes
  manifest.json           which file decodes to which .rgb, and the parameters of each transform case
"""
import io, json, os, random, struct, zlib
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
H, W = 24, 32
rng = random.Random(19)


def source():
    # A smooth colour ramp with a diagonal stripe and some noise: edges and gradients for the filters to work on.
    px = bytearray()
    for y in range(H):
        for x in range(W):
            n = rng.randint(-20, 20)
            stripe = 90 if (x + y) % 11 < 3 else 0
            r = min(255, max(0, 8 * x + n))
            g = min(255, max(0, 10 * y + stripe))
            b = min(255, max(0, 255 - 4 * x - 5 * y + n))
            px += bytes((r, g, b))
    return Image.frombytes("RGB", (W, H), bytes(px))


def write_raw(name, image):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(image.convert("RGB").tobytes())
    return name


def png16(name, samples, colour_type, channels):
    """A 16-bit PNG written by hand (PIL writes no 16-bit RGB); samples are big-endian 16-bit values, row-major."""
    raw = b"".join(b"\x00" + struct.pack(">%dH" % (W * channels), *samples[y * W * channels:(y + 1) * W * channels]) for y in range(H))
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 16, colour_type, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def resize_shorter(img, size):
    # torchvision Resize(int) on PIL: shorter side to size, longer int(size * long / short), PIL bilinear.
    w, h = img.size
    if w <= h:
        ow, oh = size, int(size * h / w)
    else:
        oh, ow = size, int(size * w / h)
    return img.resize((ow, oh), Image.BILINEAR)


def center_crop(img, ch, cw):
    # torchvision F.center_crop: zero padding when the crop is larger, then round((H - h) / 2) (Python's round).
    w, h = img.size
    if cw > w or ch > h:
        left, top = (cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0
        right, bottom = (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0
        padded = Image.new(img.mode, (w + left + right, h + top + bottom), 0)
        padded.paste(img, (left, top))
        img, (w, h) = padded, padded.size
        if (w, h) == (cw, ch):
            return img
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return img.crop((left, top, left + cw, top + ch))


def resized_crop(img, top, left, h, w, size):
    # torchvision F.resized_crop on PIL: crop the box, then resize to (size, size) bilinear.
    return img.crop((left, top, left + w, top + h)).resize((size, size), Image.BILINEAR)


def main():
    src = source()
    manifest = {"source": {"height": H, "width": W, "pixels": write_raw("source.rgb", src)}, "decode": [], "transforms": []}

    def decoded(file, expected, note=""):
        manifest["decode"].append({"file": file, "expected": expected, "note": note})

    src.save(os.path.join(HERE, "rgb.png"))
    decoded("rgb.png", "source.rgb")
    src.save(os.path.join(HERE, "rgb.bmp"))
    decoded("rgb.bmp", "source.rgb")
    src.save(os.path.join(HERE, "baseline.jpg"), quality=90)
    decoded("baseline.jpg", write_raw("baseline.jpg.rgb", Image.open(os.path.join(HERE, "baseline.jpg"))), "lossy: compared to PIL's (libjpeg's) decoding")
    src.save(os.path.join(HERE, "progressive.jpg"), quality=90, progressive=True)
    decoded("progressive.jpg", write_raw("progressive.jpg.rgb", Image.open(os.path.join(HERE, "progressive.jpg"))), "lossy, progressive")
    grey = src.convert("L")
    grey.save(os.path.join(HERE, "grey.png"))
    decoded("grey.png", write_raw("grey.rgb", grey), "grey repeated over RGB")
    palette = src.quantize(colors=16)
    palette.save(os.path.join(HERE, "palette.png"))
    decoded("palette.png", write_raw("palette.rgb", palette), "16-colour palette")
    rgba = src.copy()
    rgba.putalpha(Image.frombytes("L", (W, H), bytes((7 * i) % 256 for i in range(W * H))))
    rgba.save(os.path.join(HERE, "rgba.png"))
    decoded("rgba.png", "source.rgb", "alpha dropped, as convert('RGB')")

    # 16-bit: sample = 8-bit value * 256 + a low byte; the decoder keeps the high byte, the 8-bit value.
    # (PIL opens a 16-bit grey PNG in mode I and clips at 255 when converting, so its result is not the yardstick.)
    rgb8 = src.tobytes()
    png16("rgb16.png", [v * 256 + (i * 37) % 256 for i, v in enumerate(rgb8)], 2, 3)
    decoded("rgb16.png", "source.rgb", "16-bit RGB: high byte")
    g8 = grey.tobytes()
    png16("grey16.png", [v * 256 + (i * 53) % 256 for i, v in enumerate(g8)], 0, 1)
    decoded("grey16.png", "grey.rgb", "16-bit grey: high byte")

    # Netpbm: PIL writes binary P6 / P5; a plain-text P3 with maxval 1023 is written by hand (PIL scales it as
    # round(v * 255 / maxval) too).
    src.save(os.path.join(HERE, "rgb.ppm"))
    decoded("rgb.ppm", "source.rgb", "binary P6")
    grey.save(os.path.join(HERE, "grey.pgm"))
    decoded("grey.pgm", "grey.rgb", "binary P5")
    small = src.resize((6, 4), Image.NEAREST)
    with open(os.path.join(HERE, "plain.ppm"), "w") as f:
        f.write("P3\n# plain text, maxval 1023\n6 4\n1023\n")
        f.write("\n".join(" ".join(str(v * 4 + (v * 3) % 4) for v in small.tobytes()[r * 18:(r + 1) * 18]) for r in range(4)) + "\n")
    plain = Image.open(os.path.join(HERE, "plain.ppm"))
    manifest["plain_ppm"] = {"file": "plain.ppm", "height": 4, "width": 6, "expected": write_raw("plain.ppm.rgb", plain)}

    tiny = src.resize((4, 3))
    for ext, fmt in ((".webp", "WEBP"), (".tif", "TIFF")):
        tiny.save(os.path.join(HERE, "unsupported" + ext), fmt)
    manifest["unsupported"] = ["unsupported.webp", "unsupported.tif"]

    def case(name, image, **params):
        manifest["transforms"].append({"name": name, "height": image.size[1], "width": image.size[0], "expected": write_raw(name + ".rgb", image), **params})

    case("resize_down", resize_shorter(src, 10), op="resize", size=10)
    case("resize_up", resize_shorter(src, 37), op="resize", size=37)
    case("center_crop_odd", center_crop(src, 15, 15), op="center_crop", size=15)
    case("center_crop_pad", center_crop(src, 28, 28), op="center_crop", size=28)
    # The evaluation transform for image size 16 with crop_pct 0.875: resize to floor(16 / 0.875) = 18, crop 16.
    case("eval_16", center_crop(resize_shorter(src, 18), 16, 16), op="eval", size=16, crop_pct=0.875)
    case("resized_crop_down", resized_crop(src, 3, 5, 17, 20, 12), op="resized_crop", top=3, left=5, box_height=17, box_width=20, size=12)
    case("resized_crop_up", resized_crop(src, 2, 1, 6, 9, 12), op="resized_crop", top=2, left=1, box_height=6, box_width=9, size=12)

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
