import numpy as np


def _synthetic(n=8, size=32, seed=0):
    """Pink 'tissue' with purple discs as glands; mask = disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), np.uint8)
    for i in range(n):
        cy, cx, r = rng.integers(8, size - 8), rng.integers(8, size - 8), rng.integers(4, 8)
        m = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        img = np.where(m[..., None], [120, 60, 160], [230, 170, 200]).astype(np.float64)
        images[i] = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        masks[i] = m
    return images, masks


def test_architecture_respects_the_engine_contract(torch_mod):
    from jupyterlab_uga.network import UNet, count_parameters

    model = UNet()
    assert 100_000 <= count_parameters(model) <= 300_000
    allowed = (
        torch_mod.nn.Conv2d, torch_mod.nn.BatchNorm2d, torch_mod.nn.ReLU, torch_mod.nn.MaxPool2d,
        torch_mod.nn.Upsample, torch_mod.nn.Dropout,
    )
    leaves = [m for m in model.modules() if not list(m.children())]
    assert all(isinstance(m, allowed) for m in leaves)
    # the only dropouts: inside the last (full-resolution) decoder block and before the head
    drops = [name for name, m in model.named_modules() if isinstance(m, torch_mod.nn.Dropout)]
    assert drops == [f"decoders.{len(model.decoders) - 1}.drop", "head_dropout"]
    x = torch_mod.rand(2, 3, 224, 224)
    model.eval()
    with torch_mod.no_grad():
        y = model(x)
    assert y.shape == (2, 2, 224, 224)
    assert torch_mod.allclose(y.sum(1), torch_mod.ones(2, 224, 224), atol=1e-5)


def test_cached_mc_equals_naive_mc(torch_mod):
    from jupyterlab_uga.network import UNet, UNetConfig, mc_predict, mc_predict_cached

    torch_mod.manual_seed(0)
    model = UNet(UNetConfig(widths=[8, 12, 16], dropout=0.3)).eval()
    x = torch_mod.randn(2, 3, 32, 32)
    torch_mod.manual_seed(5)
    naive = mc_predict(model, x, 6)
    torch_mod.manual_seed(5)
    cached = mc_predict_cached(model, x, 6)
    assert naive.shape == (6, 2, 2, 32, 32)
    assert torch_mod.allclose(naive, cached, atol=1e-6)
    assert (naive[0] - naive[1]).abs().max() > 1e-4  # the samples really differ
    assert not model.training and all(not m.training for m in model.modules())


def test_augmentation_keeps_image_and_mask_aligned(torch_mod):
    from jupyterlab_uga.train import augment_batch

    images, masks = _synthetic(6, 32)
    g = torch_mod.Generator().manual_seed(0)
    x, y = augment_batch(torch_mod.from_numpy(images), torch_mod.from_numpy(masks), 24, g, colour=False)
    assert x.shape == (6, 3, 24, 24) and y.shape == (6, 24, 24)
    # without colour jitter, gland pixels are the purple ones (low green) after any flip/rotation/crop
    green = x[:, 1]
    assert green[y == 1].mean() < 100 < green[y == 0].mean()
    xc, _ = augment_batch(torch_mod.from_numpy(images), torch_mod.from_numpy(masks), None, g, colour=True)
    assert 0 <= xc.min() and xc.max() <= 255


def test_a_few_training_steps_reduce_the_loss(torch_mod):
    from jupyterlab_uga.network import UNet, UNetConfig
    from jupyterlab_uga.train import Normalizer, evaluate_dice, train_steps

    images, masks = _synthetic(8, 32)
    torch_mod.manual_seed(0)
    model = UNet(UNetConfig(widths=[8, 12, 16], dropout=0.1))
    norm = Normalizer(*[list(v) for v in (images.reshape(-1, 3).mean(0) / 255, images.reshape(-1, 3).std(0) / 255)])
    losses = train_steps(model, images, masks, norm, steps=40, batch_size=4, lr=1e-2, seed=0)
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert evaluate_dice(model, images, masks, norm)["dice_gland"] > 0.8


def test_training_cli_writes_a_checkpoint(torch_mod, ebhi_dir, tmp_path):
    from jupyterlab_uga.train import load_checkpoint, main

    best = main(["--data", str(ebhi_dir), "--out", str(tmp_path), "--epochs", "1", "--limit", "8", "--crop", "64", "--batch-size", "4"])
    assert best["epoch"] == 1 and 0 <= best["val_dice_mean"] <= 1
    model, norm, ckpt = load_checkpoint(tmp_path / "model.pt")
    assert len(norm.mean) == 3 and ckpt["epoch"] == 1
    assert (tmp_path / "history.json").is_file()
