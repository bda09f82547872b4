"""Data sets as batches: in-memory tensors batched by indexing (IDX, CIFAR-10, synthetic), or a
DataLoader with workers (ImageFolder). Data is looked for in --data-dir, ~/.cache/archspec, then
the Debian package's folder; a download is tried last."""
from __future__ import annotations

import gzip
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SpecError
from .config import TrainConfig

CACHE = Path(os.environ.get("ARCHSPEC_CACHE", Path.home() / ".cache" / "archspec"))
SYSTEM = Path("/usr/share/datasets")
IDX_NAMES = {"fashion-mnist": ("fashion-mnist", "FashionMNIST"), "mnist": ("mnist", "MNIST")}
CLASSES = {
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "mnist": [str(i) for i in range(10)],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}


class DataError(SpecError):
    """Data that cannot be found or does not fit the spec."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="data")


@dataclass
class Split:
    x: torch.Tensor  # (N, C, H, W) uint8, or float for synthetic data
    y: torch.Tensor  # (N,) int64


@dataclass
class TensorData:
    """A data set held in memory (on the training device), batched by indexing."""

    train: Split
    test: Split
    classes: list[str]
    mean: torch.Tensor  # (C,) in [0, 1] units
    std: torch.Tensor

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def n_train(self) -> int:
        return len(self.train.y)

    @property
    def n_test(self) -> int:
        return len(self.test.y)

    def to(self, device: torch.device) -> "TensorData":
        mv = lambda s: Split(s.x.to(device), s.y.to(device))  # noqa: E731
        return TensorData(mv(self.train), mv(self.test), self.classes, self.mean.to(device), self.std.to(device))

    def steps(self, batch: int, rank: int, world: int) -> int:
        return count_steps(self.n_train, batch, world)

    def train_batches(self, seed: int, epoch: int, start: int, batch: int, rank: int, world: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches from step `start` on: indexing tensors already on the device."""
        for idx in shard_batches(epoch_order(self.n_train, seed, epoch), batch, rank, world)[start:]:
            idx = idx.to(self.train.y.device)
            yield self.train.x.index_select(0, idx), self.train.y.index_select(0, idx)  # half x[idx]'s time

    def test_batches(self, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return eval_batches(self.test, size)


class _Subset(torch.utils.data.Dataset):
    def __init__(self, ds: Any, indices: list[int]) -> None:
        self.ds, self.indices = ds, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.ds[self.indices[i]]


@dataclass
class FolderData:
    """An ImageFolder tree (train/ and test/ or val/), decoded and resized by DataLoader workers."""

    train_set: Any
    test_set: Any
    classes: list[str]
    mean: torch.Tensor
    std: torch.Tensor
    workers: int
    device: torch.device = torch.device("cpu")

    @property
    def n_train(self) -> int:
        return len(self.train_set)

    @property
    def n_test(self) -> int:
        return len(self.test_set)

    def to(self, device: torch.device) -> "FolderData":
        self.device, self.mean, self.std = device, self.mean.to(device), self.std.to(device)
        return self

    def steps(self, batch: int, rank: int, world: int) -> int:
        return count_steps(self.n_train, batch, world)

    def loader(self, ds: Any, batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        dl = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=self.workers, pin_memory=self.device.type == "cuda",
                                         persistent_workers=False)
        try:
            for x, y in dl:
                yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        except BadImage as e:
            raise bad_image_error(e) from None

    def train_batches(self, seed: int, epoch: int, start: int, batch: int, rank: int, world: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.cat(shard_batches(epoch_order(self.n_train, seed, epoch), batch, rank, world)[start:] or [torch.zeros(0, dtype=torch.long)])
        return self.loader(_Subset(self.train_set, order.tolist()), batch)

    def test_batches(self, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.loader(self.test_set, size)


def load_folder(cfg: TrainConfig, input_shape: tuple[int, ...]) -> FolderData:
    import torchvision.transforms.v2 as T

    root = next((Path(r) for r in ([cfg.data_dir] if cfg.data_dir else []) if (Path(r) / "train").is_dir()), None)
    if root is None:
        raise DataError(f"imagefolder needs --data-dir pointing at a folder with train/<class>/*.jpg and test/ (or val/); "
                        f"found none at {cfg.data_dir!r}")
    test_dir = root / "test" if (root / "test").is_dir() else root / "val"
    if not test_dir.is_dir():
        raise DataError(f"{root} has train/ but neither test/ nor val/")
    mode = {1: "L", 3: "RGB"}.get(input_shape[0], "RGB")
    tf = T.Compose([T.Lambda(lambda im: im.convert(mode)), T.PILToTensor(), T.Resize(list(input_shape[1:]), antialias=True)])
    train, test = image_folder(root / "train", tf), image_folder(test_dir, tf)
    if train.classes != test.classes:
        only = lambda a, b: ", ".join(sorted(set(a.classes) - set(b.classes))) or "none"  # noqa: E731
        raise DataError(f"{root / 'train'} and {test_dir} have different classes (only in train/: {only(train, test)}; "
                        f"only in {test_dir.name}/: {only(test, train)}); labels are class indices, so both must hold the same class folders")
    c = input_shape[0]
    mean, std = (torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])) if c == 3 else (torch.full((c,), 0.5), torch.full((c,), 0.25))
    return FolderData(train, test, train.classes, mean, std, cfg.workers)


class BadImage(Exception):
    """A file that does not decode; raised in a DataLoader worker, turned into a DataError in the main process."""


def open_image(path: str) -> Any:
    from PIL import Image

    try:
        with open(path, "rb") as f:
            im = Image.open(f)
            im.load()  # decode now: a truncated file fails here, naming itself, not later in a transform
            return im
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError... for broken files
        raise BadImage(f"{path} is not a readable image ({type(e).__name__}: {str(e)[:120]})") from None


def image_folder(folder: Path, tf: Any) -> Any:
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(folder), transform=tf, loader=open_image)
    except FileNotFoundError as e:  # an empty class folder, or none at all
        raise DataError(f"{folder}: {e}; every class folder needs at least one image (.jpg, .png, ...)") from None


def bad_image_error(e: Exception) -> DataError:
    """The message of a BadImage, also when torch re-raised it from a worker with the worker's traceback."""
    text = str(e).strip()
    last = text.splitlines()[-1] if text else ""
    return DataError(last.split("BadImage: ", 1)[-1])


def search_dirs(cfg: TrainConfig) -> list[Path]:
    dirs = [Path(cfg.data_dir).expanduser()] if cfg.data_dir else []
    return dirs + [CACHE, SYSTEM]


def candidates(root: Path, names: tuple[str, ...]) -> list[Path]:
    out = [root]
    for n in names:
        out += [root / n, root / n / "raw"]
    return out


# -- IDX (MNIST, Fashion-MNIST) ---------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: header says {dims}, found {body.size} bytes of data")
    return body.reshape(dims)


IDX_STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx_in(folder: Path, stem: str) -> Optional[Path]:
    return next((folder / n for n in (stem, stem + ".gz") if (folder / n).is_file()), None)


def find_idx(cfg: TrainConfig) -> Optional[list[Path]]:
    """The four IDX files, all from one folder: a folder holding only some of them is an error, never
    completed from another folder (which could be another data set's copy)."""
    for root in search_dirs(cfg):
        for d in candidates(root, IDX_NAMES[cfg.dataset]):
            found = [idx_in(d, s) for s in IDX_STEMS]
            if all(found):
                return found  # type: ignore[return-value]
            if any(found):
                missing = [s for s, f in zip(IDX_STEMS, found) if f is None]
                raise DataError(f"{d} holds only some of {cfg.dataset}'s files; missing: {', '.join(missing)} (or .gz); "
                                "put all four files in one folder")
    return None


def load_idx(cfg: TrainConfig) -> TensorData:
    paths = find_idx(cfg) or download(cfg, IDX_STEMS)
    xtr, ytr, xte, yte = (read_idx(p) for p in paths)
    for (x, px), (y, py) in (((xtr, paths[0]), (ytr, paths[1])), ((xte, paths[2]), (yte, paths[3]))):
        if len(x) != len(y):
            raise DataError(f"{px} has {len(x):,} images but {py} has {len(y):,} labels; the files are from different sets")
        check_labels(y, py, len(CLASSES[cfg.dataset]))
    split = lambda x, y: Split(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))  # noqa: E731
    return with_stats(split(xtr, ytr), split(xte, yte), CLASSES[cfg.dataset])


def check_labels(y: np.ndarray, path: Path, n_classes: int) -> None:
    if y.size and int(y.max()) >= n_classes:
        raise DataError(f"{path} has label {int(y.max())}; {n_classes} classes are labelled 0..{n_classes - 1}")


def download(cfg: TrainConfig, stems: list[str]) -> list[Path]:
    """Try torchvision's downloader into the cache; on failure say where we looked and what to do."""
    looked = ", ".join(str(d) for r in search_dirs(cfg) for d in candidates(r, IDX_NAMES.get(cfg.dataset, ())))
    files = {"cifar10": "cifar-10-batches-py/ (data_batch_1..5, test_batch) from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"}.get(
        cfg.dataset, f"{', '.join(s + '[.gz]' for s in stems)}")
    how = {"fashion-mnist": "`apt-get install dataset-fashion-mnist` (Debian), or download them from "
                            "https://github.com/zalandoresearch/fashion-mnist into one of those folders",
           "mnist": "download them (e.g. torchvision.datasets.MNIST(root, download=True)) into one of those folders",
           "cifar10": "unpack the archive into one of those folders"}.get(cfg.dataset, "put them in one of those folders")
    msg = f"{cfg.dataset} not found (looked in: {looked}); expected {files}; get them with {how}, or pass --data-dir"
    if not cfg.download:
        raise DataError(msg)
    import torchvision.datasets as tvd

    cls = {"fashion-mnist": tvd.FashionMNIST, "mnist": tvd.MNIST, "cifar10": tvd.CIFAR10}[cfg.dataset]
    try:
        cls(root=str(CACHE), train=True, download=True)
    except Exception as e:  # any network failure: the message above is what the user needs
        raise DataError(f"{msg} (download failed: {type(e).__name__}: {str(e)[:120]})") from None
    if cfg.dataset == "cifar10":
        return []
    found = find_idx(cfg)
    if found is None:
        raise DataError(f"{msg} (the download finished but left no complete set of files in {CACHE})")
    return found


# -- CIFAR-10 (python batches) -------------------------------------------------------------------
class _SafeUnpickler(pickle.Unpickler):
    """Unpickles CIFAR's batches (dicts of bytes, lists and numpy arrays) and refuses anything else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise DataError(f"refusing to load {module}.{name} from a CIFAR batch file: not plain data")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = _SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DataError(f"{path} is not a readable CIFAR-10 batch: {e}") from None
    data = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return data, np.asarray(d[b"labels"], dtype=np.int64)


def load_cifar10(cfg: TrainConfig) -> TensorData:
    folder = next((d for r in search_dirs(cfg) for d in (r / "cifar-10-batches-py", r / "cifar10" / "cifar-10-batches-py", r)
                   if (d / "test_batch").is_file()), None)
    if folder is None:
        download(cfg, [])
        folder = CACHE / "cifar-10-batches-py"
    parts = [read_cifar_batch(p) for p in sorted(folder.glob("data_batch_*"))]
    if not parts:
        raise DataError(f"{folder} has a test_batch but no data_batch_* files")
    xte, yte = read_cifar_batch(folder / "test_batch")
    train = Split(torch.from_numpy(np.concatenate([p[0] for p in parts])), torch.from_numpy(np.concatenate([p[1] for p in parts])))
    return with_stats(train, Split(torch.from_numpy(xte), torch.from_numpy(yte)), CLASSES["cifar10"])


# -- synthetic ---------------------------------------------------------------------------------
def load_synthetic(cfg: TrainConfig, shape: tuple[int, ...], num_classes: int) -> TensorData:
    """Random inputs whose class is decided by a fixed random linear map, so a model can learn it."""
    g = torch.Generator().manual_seed(cfg.seed + 12345)
    n_test = max(64, cfg.synthetic_size // 4)
    x = torch.randint(0, 256, (cfg.synthetic_size + n_test, *shape), generator=g, dtype=torch.uint8)
    w = torch.randn(int(np.prod(shape)), num_classes, generator=g)
    y = ((x.flatten(1).float() - 127.5) @ w).argmax(1)
    n = cfg.synthetic_size
    return with_stats(Split(x[:n], y[:n]), Split(x[n:], y[n:]), [str(i) for i in range(num_classes)])


def with_stats(train: Split, test: Split, classes: list[str]) -> TensorData:
    x = train.x.float().div_(255) if train.x.dtype == torch.uint8 else train.x
    dims = [0] + list(range(2, x.dim()))
    return TensorData(train, test, classes, x.mean(dims), x.std(dims).clamp_min(1e-6))


def limit(data: TensorData, cfg: TrainConfig) -> TensorData:
    cut = lambda s, n: Split(s.x[:n], s.y[:n]) if n else s  # noqa: E731
    return TensorData(cut(data.train, cfg.limit_train), cut(data.test, cfg.limit_test), data.classes, data.mean, data.std)


def load_data(cfg: TrainConfig, input_shape: tuple[int, ...], num_classes: int) -> TensorData | FolderData:
    """The configured data set, checked against the spec's input shape."""
    if cfg.dataset == "imagefolder":
        return load_folder(cfg, input_shape)
    if cfg.dataset == "synthetic":
        data = load_synthetic(cfg, input_shape, cfg.num_classes or num_classes)
    elif cfg.dataset == "cifar10":
        data = load_cifar10(cfg)
    else:
        data = load_idx(cfg)
    check_fit(cfg, data.shape, input_shape)
    return limit(data, cfg)


def check_fit(cfg: TrainConfig, data_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> None:
    if tuple(data_shape) == tuple(input_shape) or cfg.resize:
        if cfg.resize and data_shape[0] not in (1, input_shape[0]):
            raise DataError(f"{cfg.dataset} images have {data_shape[0]} channels; the spec wants {input_shape[0]} (resize can only repeat 1 channel)")
        return
    fmt = lambda s: "x".join(map(str, s))  # noqa: E731
    raise DataError(f"{cfg.dataset} gives {fmt(data_shape)} images but the spec's input is {fmt(input_shape)}; "
                    "set train.resize: true (--set train.resize=true) to resize them")


# -- batching on the device ----------------------------------------------------------------------
def prepare(x: torch.Tensor, data: TensorData, cfg: TrainConfig, shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 (B, C, H, W) -> normalized float, resized to the spec's input if asked."""
    fresh = x.dtype == torch.uint8  # then x.float() is a new tensor, which may be normalized in place
    x = x.float().div_(255) if fresh else x.float()
    if cfg.normalize:
        view = (1, -1) + (1,) * (x.dim() - 2)
        mean, std = data.mean.view(view), data.std.view(view)
        x = x.sub_(mean).div_(std) if fresh else (x - mean) / std  # same arithmetic, two tensors fewer
    if tuple(x.shape[1:]) != tuple(shape):
        x = F.interpolate(x, size=shape[1:], mode="bilinear", align_corners=False) if x.dim() == 4 else x
        if x.shape[1] != shape[0]:
            x = x.expand(-1, shape[0], -1, -1)
    return x


def augment(x: torch.Tensor, cfg: TrainConfig, g: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding and horizontal flips, batched on the device. (B, C, H, W) uint8."""
    if x.dim() != 4:
        return x
    B, C, H, W = x.shape
    if cfg.random_crop:
        p = cfg.random_crop
        xp = F.pad(x, (p, p, p, p))
        i = torch.randint(0, 2 * p + 1, (B,), generator=g).to(x.device)
        j = torch.randint(0, 2 * p + 1, (B,), generator=g).to(x.device)
        rows = (i[:, None] + torch.arange(H, device=x.device))[:, None, :, None]
        cols = (j[:, None] + torch.arange(W, device=x.device))[:, None, None, :]
        x = xp[torch.arange(B, device=x.device)[:, None, None, None], torch.arange(C, device=x.device)[None, :, None, None], rows, cols]
    if cfg.hflip:
        flip = (torch.rand(B, generator=g) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled sample order of an epoch: a function of (seed, epoch), so a resumed run repeats it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def count_steps(n: int, batch: int, world: int) -> int:
    """Steps per epoch: a last partial batch alone, unless it holds a single sample (batch norm cannot
    train on a batch of one); under DDP only full steps, so every rank takes as many."""
    if world > 1:
        return n // (batch * world)
    return n // batch + (1 if n % batch > 1 else 0)


def shard_batches(order: torch.Tensor, batch: int, rank: int, world: int) -> list[torch.Tensor]:
    """Each step takes world*batch samples of the order; rank r gets its slice (equal steps on all ranks)."""
    step = batch * world
    out = []
    for s in range(count_steps(len(order), batch, world)):
        chunk = order[s * step: (s + 1) * step]
        out.append(chunk[rank * batch: (rank + 1) * batch])
    return out


def eval_batches(split: Split, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for i in range(0, len(split.y), size):
        yield split.x[i: i + size], split.y[i: i + size]
