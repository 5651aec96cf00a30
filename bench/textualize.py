"""Video textualization: scene-change keyframes (genaisys) vs one frame per second (baseline).

The video: still shots of scikit-image photos (``--shot-s`` seconds each, 640×480, H.264 at
25 fps) with an espeak-ng sentence spoken at the start of each shot (AAC audio). Both pipelines
textualize every frame they pick with the same expert — `ImageTextualizer`: EfficientNet-Lite0
ImageNet labels + RapidOCR text — and transcribe the same audio with Whisper tiny.en:

- **keyframes** (genaisys): `VideoTextualizer.scenes` with ``tags=True`` finds the shots by scene
  change (one decoding pass over thumbnails) and tags each keyframe with its own `ImageTextualizer`
  (same settings) as it is found; one event per shot, read from the scene segments' ``labels``/``ocr``.
- **1 fps** (baseline, VideoChat-Text's "a caption per second"): one frame per second is
  decoded and textualized; consecutive frames with the same top label and text merge into one
  event.

"Events" are the visual events (start time, top label, OCR text) plus the speech segments.
Goal: ≥ 2× faster with the same events. Both run on one thread, interleaved, best of
``--repeats``; models are loaded and warmed before timing.

Run: ``.venv/bin/python bench/textualize.py [--shot-s 4] [--repeats 2] [--no-ocr]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "page")
SENTENCES = ("Here is a cat.", "An astronaut in a space suit.", "A cup of coffee.", "A rocket on the launch pad.",
             "A page of printed text.")
SIZE = (640, 480)
FPS = 25
RATE = 16000


def _photo(name: str) -> np.ndarray:
    import skimage.data
    from PIL import Image

    return np.asarray(Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize(SIZE))  # (480, 640, 3)


def _speech(sentence: str, work: Path) -> np.ndarray | None:
    """espeak-ng → 16 kHz mono float32, or None without espeak-ng."""
    import av

    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    wav = work / "say.wav"
    subprocess.run([exe, "-s", "150", "-w", str(wav), sentence], check=True, timeout=60)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    chunks = []
    with av.open(str(wav)) as container:
        for frame in container.decode(audio=0):
            chunks += [c.to_ndarray().reshape(-1) for c in resampler.resample(frame)]
    chunks += [c.to_ndarray().reshape(-1) for c in resampler.resample(None)]
    return np.concatenate(chunks)


def make_video(out: Path, shot_s: float, speech: bool) -> Path:
    """Still shots of PHOTOS, ``shot_s`` seconds each, with a sentence spoken at each shot's start."""
    import av

    n = len(PHOTOS)
    track = np.zeros(int(n * shot_s * RATE), np.float32)  # (samples,)
    if speech:
        for i, sentence in enumerate(SENTENCES):
            said = _speech(sentence, out.parent)
            start = int((i * shot_s + 0.3) * RATE)
            said = said[: len(track) - start]
            track[start:start + len(said)] = said
    with av.open(str(out), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        audio = container.add_stream("aac", rate=RATE) if speech else None
        for name in PHOTOS:
            frame = av.VideoFrame.from_ndarray(_photo(name), format="rgb24")
            for _ in range(int(shot_s * FPS)):
                for packet in video.encode(frame):
                    container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            step = 1024
            for i in range(0, len(track), step):
                frame = av.AudioFrame.from_ndarray(track[None, i:i + step], format="flt", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = RATE, i, Fraction(1, RATE)
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return out


def frames_every_second(path: Path) -> list[tuple[float, np.ndarray]]:
    """The first frame at or after each whole second, in one decoding pass."""
    import av

    picked, next_t = [], 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= next_t - 1e-3:
                picked.append((float(frame.time), frame.to_ndarray(format="rgb24")))
                next_t = float(np.floor(frame.time + 1e-3)) + 1.0
    return picked


def describe(textualizer: Any, rgb: np.ndarray) -> tuple[str, str]:
    """(top ImageNet label, OCR text) of one frame, with the image textualizer's own models."""
    from PIL import Image

    image = Image.fromarray(rgb)
    label = textualizer.classify(image)[0]["label"]
    text = " ".join(line["text"] for line in textualizer.read_text(image)) if textualizer.config.ocr else ""
    return label, text


def run_keyframes(path: Path, video_t: Any, speech_t: Any | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    scenes = video_t.scenes(path)  # tagged by the textualizer itself (labels best first, OCR text)
    visual = [(float(s["start"]), s["labels"][0]["label"] if s["labels"] else "", s["ocr"]) for s in scenes]
    t1 = time.perf_counter()
    speech = speech_t(path) if speech_t is not None else []
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "visual_s": t1 - t0, "speech_s": t2 - t1, "frames": len(scenes), "visual": visual,
            "speech": speech}


def run_every_second(path: Path, image_t: Any, speech_t: Any | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    picked = frames_every_second(path)
    visual: list[tuple[float, str, str]] = []
    for t, rgb in picked:
        label, text = describe(image_t, rgb)
        if not visual or visual[-1][1] != label:  # a new event when the top label changes
            visual.append((t, label, text))
    t1 = time.perf_counter()
    speech = speech_t(path) if speech_t is not None else []
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "visual_s": t1 - t0, "speech_s": t2 - t1, "frames": len(picked), "visual": visual,
            "speech": speech}


def same_events(a: dict[str, Any], b: dict[str, Any], tolerance_s: float = 1.0) -> bool:
    """Same visual events (top label, start within ``tolerance_s``) and the same speech.

    OCR text is reported but not compared: H.264 noise makes it flicker between frames of one still shot.
    """
    if len(a["visual"]) != len(b["visual"]):
        return False
    for (ta, la, _), (tb, lb, _) in zip(a["visual"], b["visual"], strict=True):
        if la != lb or abs(ta - tb) > tolerance_s:
            return False
    return [s["text"] for s in a["speech"]] == [s["text"] for s in b["speech"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shot-s", type=float, default=4.0, help="seconds per still shot (5 shots)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-ocr", action="store_true", help="labels only (the per-frame expert gets cheaper)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from genaisys.tools.textualizers import ImageTextualizer, VideoTextualizer, WhisperAudioTextualizer

    work = Path(tempfile.mkdtemp(prefix="genaisys-bench-textualize-"))
    try:
        speech = shutil.which("espeak-ng") is not None
        if not speech:
            print("note: espeak-ng is not installed (apt-get install espeak-ng): the video has no speech track")
        video = make_video(work / "shots.mp4", args.shot_s, speech)
        image_t = ImageTextualizer(ocr=not args.no_ocr, cpu_threads=1)
        # the same expert settings, every label kept (the baseline takes the top one whatever its probability)
        video_t = VideoTextualizer(speech=False, tags=True,
                                   image=image_t.config.model_copy(update={"min_label_prob": 0}))
        speech_t = WhisperAudioTextualizer(cpu_threads=1) if speech else None
        describe(image_t, _photo("chelsea"))  # load and warm the experts outside the timing
        if speech_t is not None:
            speech_t(video)
        ours, base = [], []
        for _ in range(args.repeats):  # interleaved rounds, best of each
            ours.append(run_keyframes(video, video_t, speech_t))
            base.append(run_every_second(video, image_t, speech_t))
        k = min(ours, key=lambda r: r["seconds"])
        b = min(base, key=lambda r: r["seconds"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    duration = len(PHOTOS) * args.shot_s
    expert = "EfficientNet-Lite0 labels" + ("" if args.no_ocr else " + RapidOCR")
    print(f"\nVideo: {len(PHOTOS)} still shots × {args.shot_s:g} s = {duration:g} s, {SIZE[0]}×{SIZE[1]} H.264 "
          f"{FPS} fps, {'espeak-ng speech per shot' if speech else 'no speech'}; per-frame expert: {expert}; "
          f"speech: Whisper tiny.en; 1 thread, best of {args.repeats}.")
    print("| pipeline | wall s | of it: frames s | of it: speech s | frames textualized | visual events | "
          "speech events | ratio (all) | ratio (frames) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in (("one frame per second (baseline)", b), ("scene-change keyframes (VideoTextualizer)", k)):
        print(f"| {label} | {r['seconds']:.2f} | {r['visual_s']:.2f} | {r['speech_s']:.2f} | {r['frames']} | "
              f"{len(r['visual'])} | {len(r['speech'])} | {b['seconds'] / r['seconds']:.2f}× | "
              f"{b['visual_s'] / r['visual_s']:.2f}× |")
    same = same_events(k, b)
    speedup = b["seconds"] / k["seconds"]
    print(f"same events: {'yes' if same else 'NO'}; speed-up {speedup:.2f}× (goal ≥ 2× with the same events) → "
          f"{'MET' if same and speedup >= 2 else 'NOT MET'}")
    print("events (keyframes):")
    for t, label, text in k["visual"]:
        print(f"  [{t:5.1f} s] scene: {label}" + (f"; text: {text[:60]!r}" if text else ""))
    for s in k["speech"]:
        print(f"  [{s['start']:5.1f} s] speech: {s['text']}")
    if not same:
        print("events (1 fps):")
        for t, label, text in b["visual"]:
            print(f"  [{t:5.1f} s] scene: {label}" + (f"; text: {text[:60]!r}" if text else ""))
    print(f"machine: {os.cpu_count()} CPUs (shared with other work while measured)")


if __name__ == "__main__":
    main()
