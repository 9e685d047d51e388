"""A small real training job, the demo's `logistic-baseline` template: logistic regression by
gradient descent (numpy) on a synthetic, seeded classification set, speaking the training-job
progress protocol (domain/training.py) on stdout. It shows what a template's entrypoint does;
run it by hand to see the lines:

    python -m maestro_graph.training_example --epochs 5
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--pause", type=float, default=0.2, help="seconds between epochs, so a watcher sees it move")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)

    rnd = np.random.default_rng(a.seed)
    x = rnd.normal(size=(a.rows, 5))
    truth = np.array([1.5, -2.0, 0.7, 0.0, 1.0])
    y = (x @ truth + rnd.normal(scale=0.5, size=a.rows) > 0).astype(float)
    split = int(a.rows * 0.8)
    w, b = np.zeros(x.shape[1]), 0.0
    print(f"training logistic regression on {split} rows, validating on {a.rows - split}", flush=True)
    for epoch in range(1, a.epochs + 1):
        z = 1 / (1 + np.exp(-(x[:split] @ w + b)))
        w -= a.lr * x[:split].T @ (z - y[:split]) / split
        b -= a.lr * float(np.mean(z - y[:split]))
        pv = 1 / (1 + np.exp(-(x[split:] @ w + b)))
        loss = float(-np.mean(y[split:] * np.log(pv + 1e-12) + (1 - y[split:]) * np.log(1 - pv + 1e-12)))
        accuracy = float(np.mean((pv > 0.5) == y[split:]))
        print(json.dumps({"progress": round(epoch / a.epochs, 4), "epoch": epoch,
                          "metrics": {"val_loss": round(loss, 4), "val_accuracy": round(accuracy, 4)},
                          "message": f"epoch {epoch}/{a.epochs}"}), flush=True)
        time.sleep(a.pause)
    print(f"weights {np.round(w, 3).tolist()}, bias {round(b, 3)}", flush=True)


if __name__ == "__main__":
    main()
