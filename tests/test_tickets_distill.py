"""rglt.applications.distill against the closed forms of the distillation loss and its gradient."""
import pytest
import torch
import torch.nn.functional as F

from rglt.applications.distill import distillation_criterion, ensemble_teacher
from rglt.train import TrainConfig, train


class Fixed(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits[x.long().reshape(-1)]


def test_the_loss_and_its_gradient_match_their_closed_forms():
    g = torch.Generator().manual_seed(0)
    teacher_logits = torch.randn(5, 4, generator=g, dtype=torch.float64)
    student = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    labels, inputs = torch.tensor([0, 1, 2, 3, 0]), torch.arange(5.0)
    T, w = 3.0, 0.7
    loss = distillation_criterion(Fixed(teacher_logits), T, w)(student, labels, inputs)
    p_t, p_s = torch.softmax(teacher_logits / T, 1), torch.softmax(student / T, 1)
    kl = (p_t * (p_t.log() - p_s.log())).sum()
    ce = -torch.log_softmax(student, 1)[torch.arange(5), labels].sum()
    assert loss.item() == pytest.approx((w * T * T * kl + (1 - w) * ce).item(), rel=1e-12)
    loss.backward()
    onehot = F.one_hot(labels, 4).double()
    expected = w * T * (p_s - p_t) + (1 - w) * (torch.softmax(student, 1) - onehot)
    assert torch.allclose(student.grad, expected.detach(), atol=1e-12)


def test_weight_zero_is_cross_entropy_and_a_student_equal_to_its_teacher_has_no_soft_loss():
    logits = torch.randn(6, 3, dtype=torch.float64)
    labels, inputs = torch.tensor([0, 1, 2, 0, 1, 2]), torch.arange(6.0)
    hard = distillation_criterion(Fixed(logits), 2.0, 0.0)(logits, labels, inputs)
    assert hard.item() == pytest.approx(F.cross_entropy(logits, labels, reduction="sum").item())
    assert distillation_criterion(Fixed(logits), 2.0, 1.0)(logits, labels, inputs).item() == pytest.approx(0, abs=1e-12)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="temperature"):
        distillation_criterion(torch.nn.Linear(2, 2), 0.0)
    with pytest.raises(ValueError, match="weight"):
        distillation_criterion(torch.nn.Linear(2, 2), 2.0, 1.5)
    with pytest.raises(ValueError, match="criterion must be a callable"):
        train(torch.nn.Linear(2, 2), (torch.randn(4, 2), torch.tensor([0, 1, 0, 1])), TrainConfig(mix="mixup"),
              criterion=distillation_criterion(torch.nn.Linear(2, 2)))


def test_training_with_a_teacher_pulls_the_student_towards_it():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 4, generator=g)
    teacher = torch.nn.Linear(4, 3)
    y = teacher(x).argmax(1).detach()
    student = torch.nn.Linear(4, 3)
    config = TrainConfig(epochs=30, batch_size=64, lr=0.5, momentum=0.0, weight_decay=0.0, schedule="constant")
    before = F.kl_div(F.log_softmax(student(x), 1), F.log_softmax(teacher(x), 1), log_target=True, reduction="batchmean").item()
    train(student, (x, y), config, criterion=distillation_criterion(teacher, 1.0, 1.0))
    after = F.kl_div(F.log_softmax(student(x), 1), F.log_softmax(teacher(x), 1), log_target=True, reduction="batchmean").item()
    assert after < 0.1 * before


def test_an_ensemble_teacher_gives_the_mean_of_its_members_probabilities_as_soft_targets():
    """Oracle: the members' softmax averaged by hand; at T = 1 and weight 1 the loss is the KL from that mean."""
    g = torch.Generator().manual_seed(2)
    member_logits = [torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(3)]
    teacher = ensemble_teacher([Fixed(t) for t in member_logits])
    inputs = torch.arange(5.0)
    mean = sum(torch.softmax(t, 1) for t in member_logits) / 3
    assert torch.allclose(torch.softmax(teacher(inputs), 1), mean, atol=1e-12)
    student = torch.randn(5, 4, generator=g, dtype=torch.float64)
    loss = distillation_criterion(teacher, 1.0, 1.0)(student, torch.zeros(5, dtype=torch.long), inputs)
    kl = (mean * (mean.log() - torch.log_softmax(student, 1))).sum()
    assert loss.item() == pytest.approx(kl.item(), rel=1e-12)
    # A temperature softens the ensemble's distribution: softmax(log(mean) / T), i.e. mean^(1/T) renormalised.
    soft = mean ** 0.5 / (mean ** 0.5).sum(1, keepdim=True)
    loss = distillation_criterion(teacher, 2.0, 1.0)(student, torch.zeros(5, dtype=torch.long), inputs)
    kl = 4.0 * (soft * (soft.log() - torch.log_softmax(student / 2.0, 1))).sum()
    assert loss.item() == pytest.approx(kl.item(), rel=1e-12)
    with pytest.raises(TypeError, match="members"):
        ensemble_teacher([])
