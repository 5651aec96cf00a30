"""ImageTextualizer: ImageNet labels + OCR from the packaged models, bad input, and memory ingestion."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from genaisys.errors import MediaError
from genaisys.tools.textualizers import ImageTextualizer, ImageTextualizerConfig

CAT_LABELS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


@pytest.fixture(scope="module")
def chelsea_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skimage.data

    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(skimage.data.chelsea()).save(folder / "chelsea.png")  # (300, 451, 3) a tabby cat
    return folder / "chelsea.png"


@pytest.fixture(scope="module")
def sign_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    img = Image.new("RGB", (720, 220), "white")
    ImageDraw.Draw(img).text((24, 70), "Invoice Zebra 4821", fill="black", font=ImageFont.load_default(size=48))
    out = tmp_path_factory.mktemp("sign") / "sign.png"
    img.save(out)
    return out


@pytest.fixture(scope="module")
def textualizer() -> ImageTextualizer:
    return ImageTextualizer()


def test_class_names_are_the_imagenet_1k_list() -> None:
    from genaisys.tools.textualizers.image import _class_names

    names = _class_names()
    assert len(names) == 1000
    assert names[:3] == ("tench", "goldfish", "great white shark")
    assert names[281] == "tabby" and names[999] == "toilet tissue"


def test_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        ImageTextualizerConfig(topk=3)  # misspelt field
    with pytest.raises(ValidationError):
        ImageTextualizerConfig(top_k=0)


def test_text_file_named_png_is_a_media_error(tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image\n")
    with pytest.raises(MediaError, match="not a readable image"):
        ImageTextualizer(ocr=False)(fake)


def test_empty_missing_and_truncated_files_are_media_errors(tmp_path: Path, chelsea_png: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(MediaError, match="empty"):
        ImageTextualizer(ocr=False)(empty)
    with pytest.raises(MediaError, match="no image file"):
        ImageTextualizer(ocr=False)(tmp_path / "absent.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(chelsea_png.read_bytes()[:2000])
    with pytest.raises(MediaError, match="not a readable image"):
        ImageTextualizer(ocr=False)(cut)


def test_decompression_bomb_is_refused_quickly(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb, optimize=True)  # 400 M pixels in a few tens of KB
    assert bomb.stat().st_size < 200_000
    t0 = time.perf_counter()
    with pytest.raises(MediaError, match="decompression bomb"):
        ImageTextualizer(ocr=False)(bomb)
    assert time.perf_counter() - t0 < 2.0
    # Under Pillow's own 2× limit but over our cap: still refused before decoding.
    small_bomb = tmp_path / "wide.png"
    Image.new("1", (4000, 3000)).save(small_bomb)
    with pytest.raises(MediaError, match="max_pixels=1000000"):
        ImageTextualizer(ocr=False, max_pixels=1_000_000)(small_bomb)


@pytest.mark.packaged
def test_chelsea_gets_a_cat_label(textualizer: ImageTextualizer, chelsea_png: Path) -> None:
    result = textualizer.describe(chelsea_png)
    labels = [item["label"] for item in result["labels"]]
    assert len(labels) == 5
    assert CAT_LABELS & set(labels[:5]), labels
    assert labels[0] in CAT_LABELS, labels
    probs = [item["prob"] for item in result["labels"]]
    assert probs == sorted(probs, reverse=True) and 0.0 < sum(probs) <= 1.0001
    assert (result["width"], result["height"]) == (451, 300)
    assert "cat" in result["description"]


@pytest.mark.packaged
def test_ocr_reads_drawn_words(textualizer: ImageTextualizer, sign_png: Path) -> None:
    result = textualizer.describe(sign_png)
    words = result["text"].lower()
    for word in ("invoice", "zebra", "4821"):
        assert word in words, result["ocr"]
    assert 'The text in it reads: "' in textualizer(sign_png)


@pytest.mark.packaged
def test_ingest_indexes_images_by_their_description(tmp_path: Path, chelsea_png: Path,
                                                    textualizer: ImageTextualizer) -> None:
    from genaisys.memory import ChromaMemory, HashingEmbedding

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "chelsea.png").write_bytes(chelsea_png.read_bytes())
    (folder / "notes.txt").write_text("Quarterly budget figures for the garden committee.\n")
    arr = np.full((64, 64, 3), 200, dtype=np.uint8)
    Image.fromarray(arr).save(folder / "blank.png")
    (folder / "fake.png").write_text("not an image")
    memory = ChromaMemory(tmp_path / "db", embedding=HashingEmbedding(dim=64), image_embedding=False)
    report = memory.ingest(folder, describe_image=textualizer)  # as `memory ingest` wires it
    assert report.images_added == 2, report
    assert [Path(s.path).name for s in report.skipped] == ["fake.png"], report.skipped
    assert "not a readable image" in report.skipped[0].reason
    hits = memory.search("cat", k=1)
    assert hits and Path(hits[0].source).name == "chelsea.png", hits
