"""Loads Joule's spectrally normalised ShallowCNN (spectral_norm.lua's files in DIR) into the same network built
in PyTorch with torch.nn.utils.parametrizations.spectral_norm on every Conv2d and Linear, strictly, and compares
the evaluation-mode logits.  spectral_norm.py DIR"""
import sys
import numpy as np, torch, safetensors.torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

d = sys.argv[1]


class Swish(nn.Module):
    def forward(self, x): return x * torch.sigmoid(x)


def shallow(h, c):
    net = nn.Module()
    net.cnn_layers = nn.Sequential(nn.Conv2d(1, h, 5, 2, 4), Swish(), nn.Conv2d(h, 2*h, 3, 2, 1), Swish(),
        nn.Conv2d(2*h, 4*h, 3, 2, 1), Swish(), nn.Conv2d(4*h, 4*h, 3, 2, 1), Swish(), nn.Conv2d(4*h, 4*h, 3, 2, 1), Swish(),
        nn.AdaptiveAvgPool2d((1, 1)))
    net.fc_layers = nn.Sequential(nn.Flatten(), nn.Linear(4*h, c))
    return net


net = shallow(8, 5)
for m in net.modules():
    if isinstance(m, (nn.Conv2d, nn.Linear)): spectral_norm(m)
print(net.load_state_dict(safetensors.torch.load_file(f"{d}/sn.safetensors"), strict=True))
net.eval()
with torch.no_grad():
    y = net.fc_layers(net.cnn_layers(torch.from_numpy(np.load(f"{d}/x.npy")))).numpy()
ref = np.load(f"{d}/logits.npy")
err = float(np.abs(y - ref).max())
print(f"evaluation-mode logits: max |PyTorch - Joule| = {err:.3g} (largest logit {float(np.abs(ref).max()):.3g})")
sys.exit(0 if err <= 1e-5 * max(1.0, float(np.abs(ref).max())) else 1)
