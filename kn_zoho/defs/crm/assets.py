"""CRM assets: one dynamic partition per storefront record."""

from dagster import DynamicPartitionsDefinition

from kn_zoho.defs.queue_assets import queue_asset
from kn_zoho.mapping.crm import CrmFieldConfig
from kn_zoho.sync.crm import ContactsFlow, LeadsFlow

crm_contact_partitions = DynamicPartitionsDefinition(name="crm_contacts")
crm_lead_partitions = DynamicPartitionsDefinition(name="crm_leads")

crm_contacts = queue_asset(
    name="crm_contacts",
    entity="crm_contact",
    partitions_def=crm_contact_partitions,
    flow=lambda clients: ContactsFlow(clients.crm, CrmFieldConfig.from_env()),
    resource_key="zoho_crm",
    product="crm",
    description="Storefront users as Zoho CRM Contacts (partition = user id).",
)

crm_leads = queue_asset(
    name="crm_leads",
    entity="crm_lead",
    partitions_def=crm_lead_partitions,
    flow=lambda clients: LeadsFlow(clients.crm),
    resource_key="zoho_crm",
    product="crm",
    description="Contact-us submissions (inquiry-<id>) and B2B quote requests "
    "(quote-<number>) as Zoho CRM Leads.",
)
