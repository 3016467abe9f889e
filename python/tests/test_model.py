"""absnet.Model: predictions equal the CLI's on real images, arrays and paths agree, batches
agree with single images, and bad images raise ValueError naming the argument."""

import json
import subprocess

import numpy as np
import pytest

import absnet

from conftest import REPO, cli_maps


@pytest.fixture(scope="module")
def model():
    return absnet.Model()


def test_predictions_equal_the_cli_on_real_osie_images(model, osie, absnet_binary, tmp_path):
    images = sorted((osie / "data" / "stimuli").glob("*.jpg"))[:4]
    expected = cli_maps(absnet_binary, images, tmp_path)
    for image in images:
        saliency = model.predict(image)
        assert saliency.dtype == np.float32 and saliency.shape == (600, 800)
        np.testing.assert_array_equal(saliency, expected[image.stem][0])
        np.testing.assert_array_equal(model.log_density(str(image)), expected[image.stem][1])
    np.testing.assert_array_equal(model.predict(images[0].read_bytes()), expected[images[0].stem][0])
    batch = model.predict_batch(images)
    for image, saliency in zip(images, batch):
        np.testing.assert_array_equal(saliency, expected[image.stem][0])


def test_uint8_and_float_arrays_give_the_same_map(model):
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    as_bytes = model.predict(pixels)
    as_floats = model.predict(pixels.astype(np.float64) / 255.0)
    assert as_bytes.shape == (120, 160)
    np.testing.assert_array_equal(as_bytes, as_floats)
    density = np.exp(model.log_density(pixels))
    assert abs(density.sum() - 1.0) < 1e-9


def test_the_default_model_has_no_aesthetics_and_says_so(model):
    assert not model.has_aesthetics and model.name.endswith("(built in)")
    with pytest.raises(RuntimeError, match="no trained aesthetics head"):
        model.aesthetics(str(REPO / "samples" / "chelsea.png"))


def test_the_default_model_scores_picture_quality(model):
    assert model.has_quality
    quality = model.quality(str(REPO / "samples" / "chelsea.png"))
    assert 0 <= quality["score"] <= 100
    assert len(quality["distribution"]) == 10
    assert abs(sum(quality["distribution"]) - 1) < 1e-5


def test_the_built_in_quality_model_scores_in_place_of_the_models_head(model, absnet_binary, tmp_path):
    photo = REPO / "samples" / "chelsea.png"
    paired = absnet.Model(quality_model="quality")
    assert paired.quality_model == "models/quality/model.safetensors (built in)"
    assert model.quality_model is None
    np.testing.assert_array_equal(paired.predict(photo), model.predict(photo))
    quality = paired.quality(str(photo))
    assert 0 <= quality["score"] <= 100 and abs(quality["score"] - model.quality(str(photo))["score"]) > 1e-3
    subprocess.run(
        [absnet_binary, "predict", photo, "--quality-only", "--model", "quality", "--out", tmp_path / "q"],
        check=True,
        capture_output=True,
    )
    record = json.loads((tmp_path / "q" / "summary.jsonl").read_text())
    assert abs(record["quality"]["score"] - quality["score"]) < 1e-4
    with pytest.raises(ValueError, match="no trained saliency head"):
        absnet.Model("quality")


def test_mirror_averaging_is_chosen_or_taken_from_the_card(model):
    photo = str(REPO / "samples" / "chelsea.png")
    np.testing.assert_array_equal(absnet.Model(flip_average=True).predict(photo), model.predict(photo))
    single = absnet.Model(flip_average=False).predict(photo)
    assert single.shape == (300, 451) and np.abs(single - model.predict(photo)).max() > 1e-4


def test_built_in_models_are_chosen_by_name_and_anything_else_is_a_file():
    for name in ("fast", "accurate"):
        chosen = absnet.Model(name)
        assert chosen.name == f"models/{name}/model.safetensors (built in)"
        assert chosen.has_quality
    assert absnet.Model().name == absnet.Model("fast").name
    with pytest.raises(ValueError, match="fastest"):
        absnet.Model("fastest")


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((10, 10), np.uint8), r"image: shape \(10, 10\)"),
        (np.zeros((10, 10, 4), np.uint8), r"image: shape \(10, 10, 4\)"),
        (np.zeros((10, 10, 3), np.int16), "image: dtype int16"),
        (np.full((10, 10, 3), np.nan), "image: holds NaN"),
        (np.full((10, 10, 3), 3.0), r"image: float values must lie in \[0, 1\]"),
        ([1, 2, 3], "image: expected a path, bytes or a numpy array"),
    ],
)
def test_bad_images_raise_value_error_naming_the_argument(model, image, message):
    with pytest.raises(ValueError, match=message):
        model.predict(image)


def test_files_that_are_not_images_name_the_file(model, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="notes.jpg"):
        model.predict(bad)
    with pytest.raises(ValueError, match=r"images\[1\]"):
        model.predict_batch([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])


def test_crop_is_the_cli_window(model):
    saliency = model.predict(str(REPO / "samples" / "chelsea.png"))
    x, y, w, h, score = absnet.crop(saliency, "9:16", 1.0)
    assert (w, h) == (169, 300) and x <= 190 and x + w >= 290 and 0 < score <= 1
    with pytest.raises(ValueError, match="scale"):
        absnet.crop(saliency, "1:1", 0.0)
    with pytest.raises(ValueError, match="aspect `16x9`"):
        absnet.crop(saliency, "16x9", 1.0)
