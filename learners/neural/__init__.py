"""Neural learners: MLP/CNN networks, losses, the training engine, batched seeds,
and a scikit-learn classifier.

    model = MLP(d, C, width=256, depth=3, init="orthogonal", seed=0)
    result = train(model, "agd", X, y, order_seed=0, epochs=10, batch_size=128)
    batched = BatchedMLP(d, C, seeds=range(32), width=64)
    results = train_batched(batched, "adam", X, y, order_seed=list(range(32)), epochs=100)
    NeuralClassifier(optimizer="agd", width=1024, depth=2).fit(X, y).predict(X)
"""

from learners.neural.batched import BatchedLinear, BatchedMLP, BatchedParameter
from learners.neural.classifier import NeuralClassifier
from learners.neural.engine import (
    BatchedTrainResult,
    BatchingFallbackWarning,
    TrainResult,
    batching_fallbacks,
    train,
    train_batched,
)
from learners.neural.initialisation import INITS
from learners.neural.losses import LOSSES, make_loss
from learners.neural.models import ACTIVATIONS, MLP, SmallCNN

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "MLP",
    "BatchedLinear",
    "BatchedMLP",
    "BatchedParameter",
    "BatchedTrainResult",
    "BatchingFallbackWarning",
    "NeuralClassifier",
    "SmallCNN",
    "TrainResult",
    "batching_fallbacks",
    "make_loss",
    "train",
    "train_batched",
]
