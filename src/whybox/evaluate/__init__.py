"""Is the explanation trustworthy? Faithfulness, stability, sanity checks, agreement, scaffold check."""

from .agreement import AgreementMatrix, AgreementResult, agreement, agreement_matrix
from .card import QualityCard, quality_card
from .faithfulness import FaithfulnessCurve, aopc, deletion, infidelity, insertion
from .sanity import RandomizationCheck, randomization_check
from .scaffold import ScaffoldCheck, make_scaffolded_model, perturbation_samples, scaffold_check
from .stability import SeedVariation, local_lipschitz, max_sensitivity, seed_variation

__all__ = ["AgreementMatrix", "AgreementResult", "FaithfulnessCurve", "agreement", "agreement_matrix", "aopc",
           "deletion", "infidelity", "insertion", "ScaffoldCheck", "SeedVariation", "local_lipschitz",
           "make_scaffolded_model", "max_sensitivity", "perturbation_samples", "scaffold_check", "seed_variation"]
__all__ += ["QualityCard", "quality_card"]
__all__ += ["RandomizationCheck", "randomization_check"]
