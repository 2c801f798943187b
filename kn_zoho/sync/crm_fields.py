"""Check the CRM org's field layout against what we send, before anything is sent.

Zoho CRM drops a field API name it does not know without a word (the write still succeeds), and
an upsert on a field that is not unique could match or make the wrong record. So every field
our payloads carry must exist in the module's layout (``GET /crm/v8/settings/fields``) with a
type that takes our value, and the two key fields must be unique ("Do not allow duplicate
values"). The same check serves ``kn-zoho doctor`` and the start of every CRM run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.sync.errors import SetupError
from kn_zoho.zoho.crm import CrmClient

TEXT = ("text",)


@dataclass(frozen=True)
class FieldRequirement:
    """One field our payloads carry: the types that take our value; unique for a key."""

    module: str
    api_name: str
    data_types: tuple[str, ...]
    purpose: str
    unique: bool = False
    min_length: int | None = None
    custom: bool = False


@dataclass(frozen=True)
class FieldFinding:
    """A configured field the org's layout does not satisfy, in plain words."""

    module: str
    api_name: str
    problem: str
    setting: str | None = None  # the env var that names this field, if it is configurable

    def __str__(self) -> str:
        where = f" (set by {self.setting})" if self.setting else ""
        return f"{self.module}.{self.api_name}{where}: {self.problem}"


_STANDARD = {
    "Contacts": (("First_Name", TEXT), ("Last_Name", TEXT), ("Email", ("email",)),
                 ("Phone", ("phone",)), ("Mailing_State", TEXT), ("Mailing_Country", TEXT),
                 ("Lead_Source", ("picklist",)), ("Description", ("textarea",))),
    "Leads": (("First_Name", TEXT), ("Last_Name", TEXT), ("Email", ("email",)),
              ("Phone", ("phone",)), ("Company", TEXT), ("Lead_Source", ("picklist",)),
              ("Description", ("textarea",))),
}
MODULES = tuple(_STANDARD)


def requirements(config: CrmFieldConfig) -> list[FieldRequirement]:
    """Every field a Contacts or Leads write of ours can carry."""
    result = [FieldRequirement(module, name, types, "standard field")
              for module, fields in _STANDARD.items() for name, types in fields]
    result += [
        FieldRequirement("Contacts", config.contact_key_field, TEXT,
                         "the storefront user id (the Contact's key)", unique=True,
                         min_length=36, custom=True),
        FieldRequirement("Leads", config.lead_reference_field, TEXT,
                         "our record key (inquiry-<id> / quote-<number>)", unique=True,
                         min_length=40, custom=True),
    ]
    if config.gstin_field:
        result.append(FieldRequirement("Contacts", config.gstin_field, TEXT, "the GSTIN",
                                       min_length=15, custom=True))
    if config.contact_company_field:
        result.append(FieldRequirement("Contacts", config.contact_company_field, TEXT,
                                       "the company name", min_length=200, custom=True))
    return result


_SETTINGS = {
    "contact_key_field": "KN_ZOHO_CRM_CONTACT_KEY_FIELD",
    "lead_reference_field": "KN_ZOHO_CRM_LEAD_REFERENCE_FIELD",
    "gstin_field": "KN_ZOHO_CRM_GSTIN_FIELD",
    "contact_company_field": "KN_ZOHO_CRM_CONTACT_COMPANY_FIELD",
}


def _setting(config: CrmFieldConfig, requirement: FieldRequirement) -> str | None:
    if not requirement.custom:
        return None
    for attribute, env in _SETTINGS.items():
        if getattr(config, attribute) == requirement.api_name:
            return env
    return None


def check_layout(requirement: FieldRequirement, layout: dict[str, dict]) -> str | None:
    """What is wrong with one field in a module's layout (api_name -> field), or None."""
    field = layout.get(requirement.api_name)
    if field is None:
        near = [name for name in layout if name.casefold() == requirement.api_name.casefold()]
        hint = f"; did you mean {near[0]}?" if near else ""
        return (f"does not exist in {requirement.module} (needed for {requirement.purpose}; "
                f"create it in Setup > Modules and Fields{hint})")
    data_type = field.get("data_type")
    if data_type not in requirement.data_types:
        wanted = " or ".join(requirement.data_types)
        return f"is of type {data_type!r}, needs {wanted} (for {requirement.purpose})"
    if requirement.unique and not field.get("unique"):
        return ('is not unique: turn on "Do not allow duplicate values", or a retry could '
                "make a second record")
    length = field.get("length")
    if requirement.min_length and isinstance(length, int) and length < requirement.min_length:
        return f"holds at most {length} characters, needs {requirement.min_length}"
    return None


def check_fields(crm: CrmClient, config: CrmFieldConfig,
                 modules: Iterable[str] = MODULES) -> list[FieldFinding]:
    """Every configured field of ``modules`` the org's layout does not satisfy (one
    ``settings/fields`` call per module)."""
    wanted = set(modules)
    findings = []
    layouts: dict[str, dict[str, dict]] = {}
    for requirement in requirements(config):
        if requirement.module not in wanted:
            continue
        if requirement.module not in layouts:
            layouts[requirement.module] = {
                str(field.get("api_name")): field for field in crm.fields(requirement.module)}
        problem = check_layout(requirement, layouts[requirement.module])
        if problem:
            findings.append(FieldFinding(requirement.module, requirement.api_name, problem,
                                         _setting(config, requirement)))
    return findings


class CrmSetupError(SetupError):
    """The CRM org is not set up for our writes: nothing of the module may be sent."""

    def __init__(self, module: str, findings: Sequence[FieldFinding]) -> None:
        self.module = module
        self.findings = list(findings)
        super().__init__(
            f"Zoho CRM {module} are not synced: the org's field layout does not match our "
            "configuration (run `kn-zoho doctor`): " + "; ".join(map(str, findings)))


class FieldCheck:
    """The field check of one run: each module's layout is read once, then remembered."""

    def __init__(self, crm: CrmClient, config: CrmFieldConfig) -> None:
        self.crm = crm
        self.config = config
        self._checked: dict[str, list[FieldFinding]] = {}

    def ensure(self, module: str) -> None:
        """Raise CrmSetupError when ``module``'s layout does not satisfy our fields."""
        if module not in self._checked:
            self._checked[module] = check_fields(self.crm, self.config, (module,))
        if self._checked[module]:
            raise CrmSetupError(module, self._checked[module])
