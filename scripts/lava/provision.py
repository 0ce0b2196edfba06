# Idempotent LAVA objects for scripts/lava-lab, run inside `lava-server manage shell -c`.
# One Django start-up instead of a dozen `lava-server manage ...` calls (each costs seconds).
# Input (environment): LAB_USER, LAB_PASSWORD, LAB_TOKEN, LAB_WORKER, LAB_DEVICE, LAB_DEVICE_TYPE.
# Output (stdout): "worker-token <token>" for the worker's --token-file.
import os

from django.contrib.auth.models import User
from linaro_django_xmlrpc.models import AuthToken
from lava_scheduler_app.models import Device, DeviceType, Worker

env = os.environ

user, created = User.objects.get_or_create(username=env["LAB_USER"])
if created or not (user.is_superuser and user.is_staff and user.is_active):
    user.is_superuser = user.is_staff = user.is_active = True
    user.set_password(env["LAB_PASSWORD"])
    user.save()

# The token's secret is chosen by lava-lab (kept in its state directory), so re-running
# `up` never rotates it under a caller's feet.
AuthToken.objects.get_or_create(
    secret=env["LAB_TOKEN"], defaults={"user": user, "description": "hmmkit lava-lab"}
)

worker, _ = Worker.objects.get_or_create(hostname=env["LAB_WORKER"])
if worker.health != Worker.HEALTH_ACTIVE:
    worker.health = Worker.HEALTH_ACTIVE
    worker.save()

dt, _ = DeviceType.objects.get_or_create(name=env["LAB_DEVICE_TYPE"])

device, created = Device.objects.get_or_create(
    hostname=env["LAB_DEVICE"],
    defaults={
        "device_type": dt,
        "worker_host": worker,
        "state": Device.STATE_IDLE,
        "health": Device.HEALTH_GOOD,
        "description": "hmmkit lava-lab QEMU (TCG)",
    },
)
# No health-check job is defined for the lab: a device left Unknown/Bad/Maintenance
# (e.g. by an infrastructure error) would never be scheduled again, so `up` resets it.
if not created and (
    device.worker_host_id != worker.pk
    or device.health not in (Device.HEALTH_GOOD, Device.HEALTH_LOOPING)
):
    device.worker_host = worker
    device.health = Device.HEALTH_GOOD
    device.save()

print("worker-token", worker.token)
