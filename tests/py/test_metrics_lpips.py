"""LPIPS structure with random weights: published key layouts load, identical images give 0."""
import pytest
import torch
from py_kernels.metrics.lpips import LAYER_CHANNELS, LPIPS, vgg16_features

torch.set_num_threads(1)


def random_lpips():
    torch.manual_seed(0)
    model = LPIPS()
    model.load_backbone({f"features.{key}": value for key, value in vgg16_features().state_dict().items()})
    model.load_linear({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(LAYER_CHANNELS)})
    return model.eval()


def test_identical_images_give_zero():
    model = random_lpips()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    assert model(images, images).tolist() == [0.0, 0.0]


def test_different_images_give_positive_distance():
    model = random_lpips()
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    distance = model(real, real.flip(-1))
    assert distance.shape == (2,)
    assert bool((distance > 0).all())


def test_linear_layer_layout_is_checked():
    model = LPIPS()
    with pytest.raises(RuntimeError, match="lin|Missing key"):
        model.load_linear({"lin0.model.1.weight": torch.rand(1, 64, 1, 1)})


def test_backbone_needs_features():
    model = LPIPS()
    with pytest.raises(ValueError, match="VGG16 state dict lacks 26 backbone tensors"):
        model.load_backbone({"classifier.0.weight": torch.zeros(1)})


def test_vgg16_feature_keys_match_torchvision():
    from torchvision.models import vgg16

    ours = vgg16_features().state_dict()
    theirs = {k[len("features."):]: v for k, v in vgg16().state_dict().items() if k.startswith("features.")}
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
