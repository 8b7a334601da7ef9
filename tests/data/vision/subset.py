#!/usr/bin/python3
"""Copies the small subset of shared/testdata/vision that the vision unit tests use from a clone.

Usage: subset.py SHARED_VISION_DIR OUT_DIR

Keeps the manifest's structure (tests read both this subset and the full shared set with the same
code): the three F16 projectors, the g4v text model, every image, and the goldens listed in KEEP;
goldens whose text model is not copied keep their embeddings only (their "modes" are dropped).
The extra JPEGs in images/ (progressive, restart-marker and grayscale transcodes, made with
libjpeg-turbo's jpegtran, lossless for the first two) are ours, not the shared set's.
"""
import json, os, shutil, sys

MODELS = ["g4v-f32", "g3v-mmproj-f16", "g4v-mmproj-f16", "g4u-mmproj-f16"]
KEEP = {  # (projector, prompt) -> keep the attention-mode goldens too
    ("g3v-mmproj-f16", "checker-640x360"): False,
    ("g3v-mmproj-f16", "scene-300x800-q90"): False,
    ("g3v-mmproj-f16", "tiny-5x3"): False,
    ("g4v-mmproj-f16", "multi0"): True,
    ("g4v-mmproj-f16", "tiny-5x3"): False,
    ("g4u-mmproj-f16", "tiny-5x3"): False,
    ("g4u-mmproj-f16", "checker-640x360"): False,
}


def main():
    src, out = sys.argv[1], sys.argv[2]
    man = json.load(open(os.path.join(src, "manifest.json")))
    files = set()
    man["models"] = [m for m in man["models"] if m["name"] in MODELS]
    files.update(m["file"] for m in man["models"])
    files.update(im["file"] for im in man["images"])
    goldens = []
    for g in man["goldens"]:
        key = (g["mmproj"], g["prompt"])
        if key not in KEEP:
            continue
        if not KEEP[key]:
            g.pop("modes", None)
        for im in g["images"]:
            files.add(im["embd"]["file"])
        for md in g.get("modes", {}).values():
            files.update([md["post"]["file"], md["decode"]["file"]])
            for t in md.get("image_top16", []):
                files.update([t["ids"], t["logits"]])
        goldens.append(g)
    man["goldens"] = goldens
    man.pop("measurements", None)
    man["set"] = "subset of " + man.get("set", "") + " (tests/data/vision/subset.py)"
    for f in sorted(files):
        os.makedirs(os.path.dirname(os.path.join(out, f)), exist_ok=True)
        shutil.copyfile(os.path.join(src, f), os.path.join(out, f))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
    print(f"{len(files)} files, {len(goldens)} goldens")


if __name__ == "__main__":
    main()
