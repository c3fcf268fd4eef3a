"""Encoder, MAE, weights files, embeddings, reconstructions and attention maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

from napari_phenoscope.errors import ModelWeightsError
from napari_phenoscope.models import (
    DEFAULT_CONFIG,
    EncoderConfig,
    MaskedAutoencoder,
    bundled_weights_path,
    create_encoder,
    embed_crops,
    load_encoder,
    load_mae,
    read_weights,
    save_weights,
)
from napari_phenoscope.models.field_inspection import (
    attention_maps,
    attention_per_block,
    block_attention,
    inspect_field,
    place_in_field,
    reconstruct,
    rollout,
    tile_origins,
)
from napari_phenoscope.models.mae import patchify, random_masking, unpatchify
from napari_phenoscope.models.preprocessing import Preprocessing
from napari_phenoscope.models.weights import checksum_path, sha256_of

SMALL = EncoderConfig(img_size=32, depth=2, embed_dim=64, num_heads=4)


@pytest.fixture
def mae() -> MaskedAutoencoder:
    torch.manual_seed(0)
    return MaskedAutoencoder(create_encoder(SMALL)).eval()


def crops_of(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 5, size, size), dtype=np.float32)


def test_encoder_shapes_and_pooling():
    torch.manual_seed(0)
    encoder = create_encoder(SMALL).eval()
    crops = crops_of(5)
    tokens = encoder.forward_features(torch.from_numpy(crops))
    assert tokens.shape == (5, 1 + (32 // 8) ** 2, 64)
    cls = embed_crops(encoder, crops, batch_size=2, device="cpu", pool="cls")
    mean = embed_crops(encoder, crops, batch_size=3, device="cpu", pool="mean")
    np.testing.assert_allclose(cls, tokens[:, 0].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(mean, tokens[:, 1:].mean(1).detach().numpy(), atol=1e-5)
    encoder.phenoscope_method = "mae"
    np.testing.assert_array_equal(embed_crops(encoder, crops, device="cpu"), mean)
    encoder.phenoscope_method = "dino"
    np.testing.assert_array_equal(embed_crops(encoder, crops, device="cpu"), cls)
    assert embed_crops(encoder, crops[:0], device="cpu").shape == (0, 64)
    with pytest.raises(ValueError, match="5"):
        embed_crops(encoder, crops[:, :3], device="cpu")


def test_default_encoder_is_a_timm_vit_with_five_channels():
    encoder = create_encoder()
    assert isinstance(encoder, VisionTransformer)
    assert encoder.patch_embed.proj.in_channels == 5
    assert encoder(torch.zeros(1, 5, DEFAULT_CONFIG.img_size, DEFAULT_CONFIG.img_size)).shape == (
        1,
        DEFAULT_CONFIG.embed_dim,
    )


def test_patchify_round_trip_and_layout():
    images = torch.rand(2, 5, 16, 16)
    patches = patchify(images, 8)
    assert patches.shape == (2, 4, 8 * 8 * 5)
    torch.testing.assert_close(unpatchify(patches, 8, 5), images)
    # patch 1 is the top-right 8 x 8 block; its first value is pixel (0, 8) of channel 0
    assert patches[0, 1, 0] == images[0, 0, 0, 8]


def test_random_masking_hides_75_percent_reproducibly():
    keep, mask, restore = random_masking(3, 64, 0.75, torch.Generator().manual_seed(1))
    assert keep.shape == (3, 16) and mask.sum(1).tolist() == [48.0] * 3
    assert torch.all(mask.gather(1, keep) == 0)
    again = random_masking(3, 64, 0.75, torch.Generator().manual_seed(1))[1]
    torch.testing.assert_close(mask, again)
    assert torch.equal(torch.sort(restore, 1).values, torch.arange(64).expand(3, -1))


def test_mae_loss_counts_only_hidden_patches_on_normalised_pixels(mae):
    images = torch.rand(2, 5, 32, 32)
    loss, pred, mask = mae(images, 0.75, torch.Generator().manual_seed(0))
    patches = patchify(images, 8)
    target = (patches - patches.mean(-1, keepdim=True)) / (
        patches.var(-1, keepdim=True) + 1e-6
    ).sqrt()
    expected = (((pred - target) ** 2).mean(-1) * mask).sum() / mask.sum()
    torch.testing.assert_close(loss, expected)
    changed = torch.where(mask[..., None] > 0, pred, pred + 100.0)  # alter visible patches
    torch.testing.assert_close(mae.loss(images, changed, mask), loss)


def test_weights_round_trip_with_checksum(tmp_path, mae):
    path = tmp_path / "model.safetensors"
    digest = save_weights(path, mae.encoder, mae=mae, training={"epochs": 1})
    assert digest == sha256_of(path) and checksum_path(path).read_text().startswith(digest)
    loaded = load_mae(path)
    crops = crops_of(3)
    np.testing.assert_array_equal(
        embed_crops(loaded.encoder, crops, device="cpu"),
        embed_crops(mae.encoder, crops, device="cpu"),
    )
    for name, tensor in mae.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    metadata = read_weights(path).metadata
    assert metadata["method"] == "mae" and metadata["training"] == {"epochs": 1}
    assert metadata["channels"] == ["DNA", "ER", "RNA", "AGP", "Mito"]
    assert load_encoder(path).phenoscope_config == SMALL


def test_corrupt_truncated_and_missing_weights_are_refused(tmp_path, mae):
    path = tmp_path / "model.safetensors"
    save_weights(path, mae.encoder, mae=mae)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelWeightsError, match="SHA-256"):
        load_encoder(path)
    path.write_bytes(bytes(data[: len(data) // 2]))
    checksum_path(path).unlink()  # no checksum: the safetensors reader must still refuse it
    with pytest.raises(ModelWeightsError, match="not a readable safetensors"):
        load_encoder(path)
    with pytest.raises(ModelWeightsError, match="does not exist"):
        load_encoder(tmp_path / "absent.safetensors")
    pickle = tmp_path / "model.pt"
    torch.save(mae.state_dict(), pickle)
    with pytest.raises(ModelWeightsError, match="safetensors"):
        load_encoder(pickle)


def test_wrong_channel_count_and_wrong_shapes_are_refused(tmp_path, mae):
    three = VisionTransformer(
        img_size=32, patch_size=8, in_chans=3, embed_dim=64, depth=1, num_heads=2, num_classes=0
    )
    path = tmp_path / "rgb.safetensors"
    save_file(three.state_dict(), str(path))
    with pytest.raises(ModelWeightsError, match="3 input channels"):
        load_encoder(path)
    # metadata saying depth 2 over tensors of a depth-1 encoder
    shallow = create_encoder(EncoderConfig(img_size=32, depth=1, embed_dim=64, num_heads=4))
    state = {f"encoder.{k}": v for k, v in shallow.state_dict().items()}
    mismatched = tmp_path / "mismatched.safetensors"
    preprocessing = Preprocessing(crop_size=SMALL.img_size).to_json()
    metadata = {"encoder_config": SMALL.to_json(), "preprocessing": preprocessing}
    save_file(state, str(mismatched), metadata=metadata)
    with pytest.raises(ModelWeightsError, match="does not fit"):
        load_encoder(mismatched)
    encoder_only = tmp_path / "encoder.safetensors"
    save_weights(encoder_only, mae.encoder, method="dino")
    with pytest.raises(ModelWeightsError, match="no MAE decoder"):
        load_mae(encoder_only)


def test_plain_timm_state_dict_with_five_channels_loads(tmp_path):
    torch.manual_seed(0)
    timm_vit = VisionTransformer(
        img_size=32, patch_size=8, in_chans=5, embed_dim=128, depth=2, num_heads=2, num_classes=10
    ).eval()
    path = tmp_path / "timm.safetensors"
    save_file(timm_vit.state_dict(), str(path))
    encoder = load_encoder(path, num_heads=2)
    images = torch.rand(2, 5, 32, 32)
    torch.testing.assert_close(encoder.forward_features(images), timm_vit.forward_features(images))
    assert encoder.phenoscope_method == "unknown"


def test_explicit_attention_matches_timm_fused_attention(mae):
    encoder = mae.encoder
    tokens = torch.randn(2, 17, 64)
    block = encoder.blocks[0]
    attention = block_attention(block, tokens)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 4, 17))
    attn = block.attn
    values = attn.qkv(block.norm1(tokens)).reshape(2, 17, 3, 4, 16).permute(2, 0, 3, 1, 4)[2]
    mixed = (attention @ values).transpose(1, 2).reshape(2, 17, 64)
    torch.testing.assert_close(attn.proj(mixed), attn(block.norm1(tokens)), atol=1e-5, rtol=1e-5)


def test_attention_maps_and_rollout(mae):
    crops = crops_of(3)
    heads, rolled = attention_maps(mae.encoder, crops, batch_size=2)
    assert heads.shape == (3, 4, 32, 32) and rolled.shape == (3, 32, 32)
    np.testing.assert_allclose(heads.max(axis=(-2, -1)), 1.0, rtol=1e-6)
    # nearest upsampling: each 8 x 8 patch is one flat block
    assert np.all(heads[:, :, :8, :8] == heads[:, :, :1, :1])
    matrices = attention_per_block(mae.encoder, torch.from_numpy(crops))
    step = [0.5 * m.mean(1) + 0.5 * torch.eye(17) for m in matrices]
    step = [s / s.sum(-1, keepdim=True) for s in step]
    expected = (step[1] @ step[0])[:, 0, 1:]
    expected = (expected / expected.amax(-1, keepdim=True)).reshape(3, 4, 4)
    np.testing.assert_allclose(rolled[:, ::8, ::8], expected.numpy(), rtol=1e-5)
    torch.testing.assert_close(rollout(matrices), step[1] @ step[0])


def test_reconstruction_keeps_visible_patches(mae):
    crops = crops_of(4)
    result = reconstruct(mae, crops, seed=3, batch_size=3)
    assert result.masked.shape == result.reconstruction.shape == crops.shape
    assert result.error.shape == result.hidden.shape == (4, 32, 32)
    hidden = result.hidden[:, None].repeat(5, axis=1)
    np.testing.assert_array_equal(result.reconstruction[~hidden], crops[~hidden])
    assert np.all(result.masked[hidden] == 0) and np.all(result.error[~result.hidden] == 0)
    assert abs(result.hidden.mean() - 0.75) < 1e-6
    again = reconstruct(mae, crops, seed=3)
    np.testing.assert_array_equal(again.hidden, result.hidden)
    np.testing.assert_allclose(again.reconstruction, result.reconstruction, atol=1e-5)


def test_place_in_field_positions_clips_and_prefers_the_nearest_centre():
    maps = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 2.0)])
    field = place_in_field(maps, np.array([[0, 0], [2, 2]]), (7, 7))
    assert field.shape == (7, 7)
    assert field[0, 0] == 1 and field[5, 5] == 2 and np.isnan(field[6, 6]) and np.isnan(field[0, 5])
    assert field[1, 1] == 1 and field[3, 3] == 2  # the overlap splits by the nearer centre
    edge = place_in_field(maps[:1], np.array([[-2, 5]]), (6, 7), fill=0.0)
    assert edge[:2, 5:].sum() == 4 and edge.sum() == 4
    multi = place_in_field(np.ones((1, 5, 4, 4)), np.array([[1, 1]]), (6, 6))
    assert multi.shape == (5, 6, 6) and np.nansum(multi) == 5 * 16


def test_inspect_field_in_image_coordinates(mae):
    image = np.random.default_rng(0).integers(0, 3000, (5, 70, 50)).astype(np.uint16)
    cell = inspect_field(mae, image, centers=np.array([[30.0, 20.0]]), seed=1)
    assert cell.masked.shape == cell.reconstruction.shape == (5, 70, 50)
    assert cell.error.shape == cell.rollout.shape == (70, 50) and cell.attention.shape == (
        4,
        70,
        50,
    )
    inside = ~np.isnan(cell.error)
    assert inside[14:46, 4:36].all() and inside.sum() == 32 * 32
    from napari_phenoscope.features.scaling import normalize_image

    normalized = normalize_image(image)
    visible = inside & (cell.error == 0) & (cell.masked[0] != 0)
    np.testing.assert_allclose(cell.reconstruction[:, visible], normalized[:, visible], atol=1e-6)
    tiles = inspect_field(mae, image, centers=None)
    assert not np.isnan(tiles.error).any() and len(tiles.origins) == len(tile_origins((70, 50), 32))


def test_bundled_weights_load_offline_and_match_their_checksum():
    path = bundled_weights_path()
    assert path.stat().st_size <= 25 * 1024 * 1024
    assert checksum_path(path).read_text().split()[0] == sha256_of(path)
    encoder = load_encoder()
    assert encoder.patch_embed.proj.in_channels == 5
    metadata = read_weights(path).metadata
    assert metadata["method"] == "mae" and json.dumps(metadata["training"])
    mae = load_mae()
    size = int(metadata["crop_size"])
    result = reconstruct(mae, crops_of(2, size))
    assert np.isfinite(result.loss)
