"""Plans: read YAML plan files, validate them, compile them for the engine.

Input: a folder of ``*.yaml`` files (or one file's text). Output: ``Plan``
objects by id, and a list of located errors (``file:line: field: message``).
"""

from compengine.plans.catalog import PlanCatalog, load_plan_catalog
from compengine.plans.loader import load_plan_file, load_plan_text, load_plans
from compengine.plans.model import Plan, Tier

__all__ = ["Plan", "PlanCatalog", "Tier", "load_plan_catalog", "load_plan_file", "load_plan_text", "load_plans"]
