"""The held-out photo questions on scikit-image / scikit-learn photos
(`genaisys.eval.heldout.photos` asks them)."""

from __future__ import annotations

__all__ = ["PHOTOS", "QUESTIONS"]

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "camera", "horse", "stereo_motorcycle", "page", "clock",
          "text", "china", "flower")

# (id, photo, question, kind, gold: accepted phrases for "open", "yes"/"no" otherwise, yes/no subject)
QUESTIONS: tuple[tuple[str, str, str, str, str, str | None], ...] = (
    ("chelsea-animal", "chelsea", "What animal is in this photo?", "open", "cat|kitten|tabby", None),
    ("chelsea-cat", "chelsea", "Is there a cat in this picture?", "yes/no", "yes", "cat"),
    ("chelsea-any-animal", "chelsea", "Is there an animal in this photo?", "yes/no", "yes", "animal"),
    ("chelsea-writing", "chelsea", "Does this image contain any writing?", "yes/no", "no", "writing"),
    ("coffee-drink", "coffee", "What drink is shown here?", "open", "coffee|espresso|cappuccino|latte", None),
    ("coffee-cup", "coffee", "Is this a picture of a cup of coffee?", "yes/no", "yes", "coffee"),
    ("coffee-cat", "coffee", "Is there a cat in this photo?", "yes/no", "no", "cat"),
    ("camera-legs", "camera", "What is the object standing on three legs in this photo?", "open", "tripod", None),
    ("camera-tripod", "camera", "Is there a tripod in this picture?", "yes/no", "yes", "tripod"),
    ("moto-vehicle", "stereo_motorcycle", "What vehicle is this?", "open",
     "motorcycle|motorbike|moped|scooter|motor scooter", None),
    ("moto-flower", "stereo_motorcycle", "Is this a picture of a flower?", "yes/no", "no", "flower"),
    ("page-word", "page", "What is the first word of the text in this image?", "open", "region|region based", None),
    ("page-text", "page", "Is there text in this image?", "yes/no", "yes", "text"),
    ("page-topic", "page", "What is the text in this picture about?", "open", "segmentation|markers|coins", None),
    ("text-writing", "text", "Is there any writing in this image?", "yes/no", "yes", "writing"),
    ("china-place", "china", "What kind of place is shown in this photo?", "open",
     "temple|palace|monastery|castle|pagoda|church|building|bell cote|boathouse", None),
    ("china-building", "china", "Is there a building in this photo?", "yes/no", "yes", "building"),
    ("china-animal", "china", "Is there an animal in this photo?", "yes/no", "no", "animal"),
    ("flower-what", "flower", "What is shown in this photo?", "open", "flower|flowers|daisy|blossom|dahlia|bloom", None),
    ("flower-flower", "flower", "Is there a flower in this picture?", "yes/no", "yes", "flower"),
    ("flower-writing", "flower", "Is there any writing in this image?", "yes/no", "no", "writing"),
    ("rocket-cat", "rocket", "Is there a cat in this photo?", "yes/no", "no", "cat"),
    ("rocket-coffee", "rocket", "Does this photo show a cup of coffee?", "yes/no", "no", "coffee"),
    ("astronaut-moto", "astronaut", "Is there a motorcycle in this picture?", "yes/no", "no", "motorcycle"),
    ("astronaut-flower", "astronaut", "Is this a photo of a flower?", "yes/no", "no", "flower"),
    ("horse-writing", "horse", "Does this image contain any writing?", "yes/no", "no", "writing"),
    ("horse-cup", "horse", "Is there a cup in this picture?", "yes/no", "no", "cup"),
    ("clock-cat", "clock", "Is there a cat in this photo?", "yes/no", "no", "cat"),
    ("camera-what", "camera", "What kind of stand is in this photo?", "open", "tripod", None),
    ("moto-wheels", "stereo_motorcycle", "Is there a motor scooter or motorcycle in this photo?", "yes/no", "yes",
     "motorcycle"),
)
