"""Image memory with the packaged EfficientNet-Lite0: image → image and text → image retrieval."""

from __future__ import annotations

import numpy as np
import pytest

from genaisys.errors import MemoryStoreError
from genaisys.memory import ChromaMemory
from genaisys.memory.embeddings import HashingEmbedding
from genaisys.memory.image_embeddings import EfficientNetImageEmbedding

pytestmark = pytest.mark.packaged


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Before the module-scoped model fixtures run: with other work on the machine, 2 threads crawl."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)

PHOTOS = {"chelsea": "a tabby cat", "astronaut": "an astronaut in a space suit",
          "coffee": "a cup of coffee on a saucer", "rocket": "a rocket on the launch pad"}


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    import skimage.data
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        Image.fromarray(getattr(skimage.data, name)()).save(root / f"{name}.png")
    return root


def test_image_to_image_and_text_to_image(tmp_path, photo_dir):
    memory = ChromaMemory(tmp_path / "m", embedding=HashingEmbedding(64))
    assert isinstance(memory.image_embedding, EfficientNetImageEmbedding)
    blob_ids = {name: memory.add_image(photo_dir / f"{name}.png", desc, {"photo": name})
                for name, desc in PHOTOS.items()}
    assert memory.count_images() == 4 and memory.count() == 4  # one vector + one description each
    import skimage.data

    cat = skimage.data.chelsea()
    for query in (cat[20:280, 30:420], cat[:, ::-1]):  # a crop and a mirror image of the cat
        hits = memory.search_images(query, k=2)
        assert hits[0].metadata["photo"] == "chelsea" and hits[0].score > hits[1].score + 0.3
        assert hits[0].text == PHOTOS["chelsea"] and hits[0].metadata["blob_id"] == blob_ids["chelsea"]
    assert memory.search_images(blob_ids["rocket"], k=1)[0].score == pytest.approx(1.0, abs=1e-4)
    text_hit = memory.search("space suit astronaut", k=1, where={"kind": "image"})[0]
    assert text_hit.metadata["photo"] == "astronaut"
    assert memory.blobs.get(text_hit.metadata["blob_id"]) == (photo_dir / "astronaut.png").read_bytes()
    # re-adding is a no-op, and a re-opened memory finds the recorded image embedding
    memory.add_image(photo_dir / "coffee.png", PHOTOS["coffee"], {"photo": "coffee"})
    reopened = ChromaMemory(tmp_path / "m")
    assert reopened.count_images() == 4 and isinstance(reopened.image_embedding, EfficientNetImageEmbedding)
    assert reopened.search_images(cat, k=1)[0].metadata["photo"] == "chelsea"
    assert reopened.delete(where={"photo": "chelsea"}) == 2 and reopened.gc_blobs() == 1


def test_folder_of_images_without_descriptions_and_a_corrupt_one(tmp_path, photo_dir):
    import shutil

    folder = tmp_path / "in"
    shutil.copytree(photo_dir, folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    memory = ChromaMemory(tmp_path / "m", embedding=HashingEmbedding(64))
    report = memory.ingest(folder)
    assert report.images_added == 4 and memory.count_images() == 4 and memory.count() == 0
    assert "not a readable image" in report.skipped[0].reason
    assert sum(1 for _ in memory.blobs.ids()) == 4  # the corrupt file stored nothing
    with pytest.raises(MemoryStoreError, match="cannot search"):
        memory.search_images(b"not an image")
    vec = np.asarray(memory.image_embedding([skimage_gray()])[0])
    assert vec.shape == (1280,) and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5


def skimage_gray():
    import skimage.data

    return skimage.data.camera()  # (H, W) grayscale is accepted
