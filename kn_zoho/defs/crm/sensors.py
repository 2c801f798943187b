"""CRM sensors: react to new and due records in the queue."""

from kn_zoho.defs.crm.assets import (
    crm_contact_partitions,
    crm_contacts,
    crm_lead_partitions,
    crm_leads,
)
from kn_zoho.defs.queue_sensor import queue_sensor

crm_contacts_sensor = queue_sensor(asset_def=crm_contacts, entity="crm_contact",
                                   partitions_def=crm_contact_partitions, product="crm")
crm_leads_sensor = queue_sensor(asset_def=crm_leads, entity="crm_lead",
                                partitions_def=crm_lead_partitions, product="crm")
