"""The Kubernetes Pod Security Standards (baseline and restricted), checked on a pod template.

Written from https://kubernetes.io/docs/concepts/security/pod-security-standards/ (the
Kubernetes 1.33 page): each control lists its restricted fields and their allowed values. A
check returns the violations as `(control, detail)` pairs; `privileged` has no controls.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Violation = tuple[str, str]

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
BASELINE_CAPABILITIES = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in CONTAINER_LISTS:
        yield from spec.get(key) or []


def _context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return container.get("securityContext") or {}


def baseline(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> list[Violation]:
    """Violations of the `baseline` policy by a pod with `metadata` and `spec`."""
    pod = spec.get("securityContext") or {}
    found: list[Violation] = []
    contexts = [pod, *(_context(c) for c in containers(spec))]
    if any((ctx.get("windowsOptions") or {}).get("hostProcess") for ctx in contexts):
        found.append(("HostProcess", "windowsOptions.hostProcess"))
    found += [("Host Namespaces", field) for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    for container in containers(spec):
        name, ctx = container["name"], _context(container)
        if ctx.get("privileged"):
            found.append(("Privileged Containers", name))
        found += [("Capabilities", f"{name} adds {cap}") for cap in (ctx.get("capabilities") or {}).get("add") or [] if cap not in BASELINE_CAPABILITIES]
        found += [("Host Ports", f"{name} {port['hostPort']}") for port in container.get("ports") or [] if port.get("hostPort")]
        if ctx.get("procMount", "Default") != "Default":
            found.append(("/proc Mount Type", name))
    found += [("HostPath Volumes", volume["name"]) for volume in spec.get("volumes") or [] if "hostPath" in volume]
    for ctx in contexts:
        if (ctx.get("appArmorProfile") or {}).get("type", "RuntimeDefault") not in ("RuntimeDefault", "Localhost"):
            found.append(("AppArmor", str(ctx["appArmorProfile"])))
        selinux = ctx.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
            found.append(("SELinux", str(selinux)))
        if (ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(("Seccomp", "Unconfined"))
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value != "runtime/default" and not value.startswith("localhost/"):
            found.append(("AppArmor", f"{key}={value}"))
    found += [("Sysctls", sysctl["name"]) for sysctl in pod.get("sysctls") or [] if sysctl["name"] not in SAFE_SYSCTLS]
    return found


def restricted(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> list[Violation]:
    """Violations of the `restricted` policy (which includes everything of `baseline`)."""
    pod = spec.get("securityContext") or {}
    found = baseline(metadata, spec)
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(("Volume Types", f"{volume['name']}: {', '.join(sorted(kinds - RESTRICTED_VOLUMES))}"))
    if pod.get("runAsUser") == 0:
        found.append(("Running as Non-root user", "pod runAsUser 0"))
    for container in containers(spec):
        name, ctx = container["name"], _context(container)
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(("Privilege Escalation", name))
        non_root = ctx.get("runAsNonRoot", pod.get("runAsNonRoot"))
        if non_root is not True:
            found.append(("Running as Non-root", name))
        if ctx.get("runAsUser") == 0:
            found.append(("Running as Non-root user", f"{name} runAsUser 0"))
        seccomp = (ctx.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(("Seccomp", f"{name}: {seccomp}"))
        capabilities = ctx.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(("Capabilities", f"{name} does not drop ALL"))
        found += [("Capabilities", f"{name} adds {cap}") for cap in capabilities.get("add") or [] if cap != "NET_BIND_SERVICE" and cap in BASELINE_CAPABILITIES]
    return found


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController")


def pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod (metadata + spec) an object runs, if it runs one."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj
    if kind in WORKLOADS:
        return obj["spec"]["template"]  # type: ignore[no-any-return]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]  # type: ignore[no-any-return]
    return None
