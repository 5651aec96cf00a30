"""The held-out shape questions' palette, backgrounds and phrasings (`genaisys.eval.heldout.shapes`
draws the images with its own renderer and asks them)."""

from __future__ import annotations

__all__ = ["BACKGROUNDS", "PALETTE", "PHRASINGS"]

# One RGB per easy-VQA colour name; each image jitters it by up to ±12 per channel.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (22, 22, 26), "blue": (35, 70, 225), "brown": (135, 78, 34), "gray": (128, 128, 128),
    "green": (30, 150, 45), "red": (222, 30, 30), "teal": (0, 128, 128), "yellow": (246, 214, 10),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255), "ivory": (250, 246, 228), "lavender": (228, 224, 250), "mint": (212, 240, 220),
    "blush": (250, 222, 228), "sky": (208, 228, 248), "peach": (252, 226, 198), "pale silver": (226, 226, 230),
    "charcoal": (52, 54, 62), "plum": (74, 36, 90), "navy": (24, 32, 80), "sand": (218, 200, 160),
}

PHRASINGS: dict[str, tuple[str, ...]] = {
    "has_shape": ("Is there a {shape} in the image?", "Do you see a {shape} here?",
                  "Does this picture show a {shape}?", "Can you spot a {shape} in this picture?",
                  "Is the figure drawn here a {shape}?"),
    "is_colour": ("Is the shape {colour}?", "Is the figure in this picture {colour}?",
                  "Would you call the colour of the shape {colour}?", "Is the object drawn here {colour}?",
                  "Is this shape coloured {colour}?"),
    "which_shape": ("What shape is this?", "Which shape is drawn here?", "Name the shape in the picture.",
                    "What kind of shape do you see?", "What geometric figure does this image show?"),
    "which_colour": ("What colour is the shape?", "Which colour is the figure?",
                     "What is the colour of the object in this picture?", "Tell me the colour of the shape.",
                     "What colour has the shape been painted?"),
}
