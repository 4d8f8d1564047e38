"""Seed 002: an essay on the applications of the lottery ticket hypothesis. The essay prints no numbers of its
own; each claim paraphrases published work, and the numbers the book tests it against are those works'."""
from rglt.sources import Number

SEED = "002"

DEEP_COMPRESSION = Number(SEED, "claim 2 (Han et al. 2016, Deep Compression)", (35, 49),
                          "compression factors without accuracy lost: AlexNet 35x, VGG-16 49x")
CHEN_RUNNING_TIME = Number(SEED, "claim 3 (Chen et al. 2022)", 64.93,
                           "running-time savings of structurally sparse tickets, up to (%), CIFAR")
VARMA_PER_CLASS = Number(SEED, "claim 6 (Varma et al. 2022)", (50, 100),
                         "training images per class at which tickets are ahead of the dense network (CIFAR-10)")
# The essay's twelve claims, in its order: (number, topic, the experiment that measures it, the published
# result it paraphrases).
CLAIMS = Number(SEED, "the twelve claims", (
    (1, "the original lottery", "tickets_lottery", "Malach et al. 2020; Pensia et al. 2020 (over-parameterisation bounds)"),
    (2, "compression and mask entropy", "tickets_compression", "Deep Compression (Han et al. 2016): 35-49x"),
    (3, "structured tickets", "tickets_structured", "Chen et al. 2022: up to 64.93% running-time savings"),
    (4, "ticket ensembles", "tickets_ensembles", "FreeTickets (Liu et al., ICLR 2022)"),
    (5, "geometry and learning rate", "tickets_geometry", "the essay's quadratic-loss argument"),
    (6, "implicit regularisation", "tickets_low_data", "Varma et al. 2022: tickets ahead at 50-100 examples per class"),
    (7, "Mixup and CutMix", "tickets_mixing", "the essay only: the set of winning tickets changes"),
    (8, "attention entropy", "tickets_attention", "nothing published measures it directly"),
    (9, "recurrent tickets", "tickets_recurrent", "Yu et al. 2020"),
    (10, "transfer across architectures", "tickets_transfer", "E-LTH (Chen et al. 2021)"),
    (11, "distillation", "tickets_distillation", "Ma et al. 2021"),
    (12, "fairness", "tickets_fairness", "Hooker et al. 2019"),
), "(number, topic, experiment, published reference) per claim")
