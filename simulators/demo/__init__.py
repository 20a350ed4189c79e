"""The demo practice (Riverside Family Medicine): staff with logins, 20 CCM/RPM patients, the care managers'
logged time of last month and this month, and a simulated home per patient whose devices hold the history
of the patient's scenario (`provision_demo`)."""

from simulators.demo.broker import DemoBroker, DemoError, LocalBroker
from simulators.demo.provision import DemoHome, DemoLogin, DemoPlan, provision_demo

__all__ = ["DemoBroker", "DemoError", "DemoHome", "DemoLogin", "DemoPlan", "LocalBroker", "provision_demo"]
