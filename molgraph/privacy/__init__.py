"""Private data: membership-inference audits of trained models, and sharing a model's knowledge
without its weights (annotations of a public library that a student learns from).

The audit (``molgraph audit``, :func:`molgraph.privacy.audit.audit_model`): ``audit`` runs it
and writes ``audit.json``; ``audit_membership`` establishes who the model trained on;
``audit_shadows`` trains the shadow models as the run was trained; ``audit_attacks`` scores
membership (LiRA, RMIA) and its figures, pure numpy; ``audit_roc`` draws the ROC curves."""
