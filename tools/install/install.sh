#!/usr/bin/env bash
# Install the bodycam firmware on Raspberry Pi OS Lite (Bookworm) and lock the camera.
#
#   sudo tools/install/install.sh [--root DIR] [--skip-selftest] [--keep-wifi]
#                         [--provisioning-key agency.key.pub]
#   sudo tools/install/install.sh --keep-ssh ...     (development images only)
#
# Idempotent: every step first checks whether its effect is already there, prints
# "changed: ..." for what it did, and a second run prints "nothing changed".
# After a passing self-test it locks the camera: every login account locked (also the
# Raspberry Pi Imager user running this), ssh masked, host keys, machine-id, random seed
# and Wi-Fi passwords removed so that copies of the card share none of them; swap and
# core files are off. Then it powers the Pi off (it cannot be logged in to any more).
# --keep-ssh keeps ssh and the login accounts (never on a camera in service);
# --keep-wifi keeps the stored Wi-Fi networks (where the dock room offloads over Wi-Fi).
# The dock link on the USB port (gadget Ethernet, usb0 addressed by the dock) is always set up.
# --provisioning-key puts the agency's provisioning key into the image (the camera then
# trusts it from its first boot; without it, the first signed file's key is pinned).
# --root (or BODYCAM_ROOT) installs into another tree instead of / (image building and
# tests); the commands that act on the running system (apt-get, useradd, systemctl,
# pip) are called as on the device, so a test replaces them with stubs on PATH.
set -euo pipefail

usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; }

ROOT="${BODYCAM_ROOT:-/}"
SKIP_SELFTEST=0
KEEP_SSH=0
KEEP_WIFI=0
PROVISIONING_KEY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
        --root=*) ROOT="${1#--root=}"; shift ;;
        --skip-selftest) SKIP_SELFTEST=1; shift ;;
        --keep-ssh) KEEP_SSH=1; shift ;;
        --keep-wifi) KEEP_WIFI=1; shift ;;
        --provisioning-key) PROVISIONING_KEY="${2:?--provisioning-key needs a .pub file}"
                            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tools/install/hardening.sh
source "$SRC/tools/install/hardening.sh"
SERVICE_USER=bodycam
# tss: /dev/tpmrm0 (the TPM key store; Debian's tpm-udev gives the node to this group)
DEVICE_GROUPS=(video audio gpio spi i2c tss)
PREFIX=/opt/bodycam
VENV="$PREFIX/venv"
UNIT_DIR=/etc/systemd/system
# bodycam-clock.path: the dock's signed time reaches the clock (bodycam-clock.service);
# bodycam-radio.path: radios off out of the dock, on in it (bodycam-radio.service)
ENABLE_UNITS=(bodycam.service bodycam-firstboot.service bodycam-provision.path
              bodycam-clock.path bodycam-radio.path)
# picamera2 and libcamera exist only as Raspberry Pi OS packages (the venv sees them via
# --system-site-packages); portaudio19-dev and python3-dev build pyaudio; pip comes from
# apt and installs into the venv with `pip --python`.
# libtss2-dev and pkg-config build tpm2-pytss (the TPM key store); tpm2-tools brings
# tpm-udev (the tss group and /dev/tpmrm0's permissions) and lets a technician look.
# rfkill switches the radios for bodycam-radio.service.
APT_PACKAGES=(python3-venv python3-pip python3-dev build-essential portaudio19-dev
              python3-picamera2 python3-libcamera python3-kms++ python3-lgpio
              libtss2-dev pkg-config tpm2-tools rfkill)
# Raspberry Pi OS's simplejpeg/picamera2 are built against numpy 1.x: numpy 2 in the
# venv would shadow the system numpy and break `import picamera2`.
PIP_CONSTRAINTS="numpy<2"

if [ "$ROOT" = "/" ]; then
    FAKE_ROOT=0
    ROOT_OPT=()
else
    [ -d "$ROOT" ] || { echo "--root $ROOT is not a directory" >&2; exit 2; }
    ROOT="$(cd "$ROOT" && pwd)"
    FAKE_ROOT=1
    ROOT_OPT=(--root "$ROOT")
fi
r() { printf '%s%s' "${ROOT%/}" "$1"; }   # a device path inside the target tree

CHANGES=0
changed() { CHANGES=$((CHANGES + 1)); echo "changed: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    [ "$FAKE_ROOT" -eq 1 ] || die "run as root: sudo $0"
    echo "note: not root, so file owners are left as they are" >&2
fi
development_warning() {
    [ "$KEEP_SSH" -eq 1 ] || return 0
    cat >&2 <<'EOF'
WARNING: --keep-ssh: DEVELOPMENT IMAGE. ssh stays on and the login accounts keep their
WARNING: passwords and sudo: anyone who knows one can read the device key and plaintext
WARNING: memory. Never put this card in service: run tools/install/install.sh without --keep-ssh.
EOF
}
development_warning

# ------------------------------------------------------------------ 64-bit only
# Evidence is encrypted to post-quantum age recipients (ML-KEM-768 + X25519), which needs
# pyca/cryptography >= 47 built with ML-KEM and HPKE X-Wing. The project builds and tests
# that on 64-bit Raspberry Pi OS (arm64) only: there are no wheels for the Pi Zero/1
# (armv6), a build from source on Raspberry Pi OS links its OpenSSL 3.0, which has no
# ML-KEM, and the camera stack (picamera2, tpm2-pytss) is only tested there. Refused
# before anything is changed, with what to do.
arch="$(dpkg --print-architecture)"
case "$arch" in
    armhf|armel|i386)
        die "this is a 32-bit image (Debian architecture $arch); the camera needs 64-bit \
Raspberry Pi OS. Nothing was changed. Fix: write \"Raspberry Pi OS Lite (64-bit)\" \
(Bookworm or later) to the card with Raspberry Pi Imager and run this installer again. \
A Pi 3, 4, 5 or Zero 2 W runs it; a Pi 1 or Zero (W) cannot (their CPUs are 32-bit only)." ;;
esac

# ------------------------------------------------------------------ Debian packages
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    changed "installed Debian packages: ${missing[*]}"
fi

# ------------------------------------------------------------------ user and groups
has_group() { grep -q "^$1:" "$(r /etc/group)"; }
in_group() { grep -Eq "^$1:[^:]*:[^:]*:(.*,)?$2(,|$)" "$(r /etc/group)"; }
for group in "${DEVICE_GROUPS[@]}"; do
    if ! has_group "$group"; then
        groupadd "${ROOT_OPT[@]}" --system "$group"
        changed "created group $group"
    fi
done
if ! grep -q "^$SERVICE_USER:" "$(r /etc/passwd)"; then
    useradd "${ROOT_OPT[@]}" --system --user-group --no-create-home \
        --home-dir /var/lib/bodycam --shell /usr/sbin/nologin \
        --groups "$(IFS=,; echo "${DEVICE_GROUPS[*]}")" "$SERVICE_USER"
    changed "created system user $SERVICE_USER"
fi
for group in "${DEVICE_GROUPS[@]}"; do
    if ! in_group "$group" "$SERVICE_USER"; then
        usermod "${ROOT_OPT[@]}" --append --groups "$group" "$SERVICE_USER"
        changed "added $SERVICE_USER to group $group"
    fi
done
uid_of() { awk -F: -v n="$1" '$1 == n {print $3}' "$(r /etc/passwd)"; }
gid_of() { awk -F: -v n="$1" '$1 == n {print $3}' "$(r /etc/group)"; }

# ------------------------------------------------------------------ directories and files
# ensure_dir PATH MODE OWNER GROUP: create it, or fix its mode/owner, reporting changes.
ensure_dir() {
    local path owner want have
    path="$(r "$1")"
    owner="$(uid_of "$3"):$(gid_of "$4")"
    if [ ! -d "$path" ]; then
        mkdir -p "$path"
        changed "created $1"
    fi
    want="$2"
    have="$(stat -c '%a' "$path")"
    if [ "$have" != "${want#0}" ]; then
        chmod "$want" "$path"
        changed "mode of $1: $have -> $want"
    fi
    if [ "$(id -u)" -eq 0 ] && [ "$(stat -c '%u:%g' "$path")" != "$owner" ]; then
        chown "$owner" "$path"
        changed "owner of $1: $3:$4"
    fi
}
# ensure_file SOURCE DEST MODE: copy when the content differs.
ensure_file() {
    local dest
    dest="$(r "$2")"
    if ! cmp -s "$1" "$dest"; then
        mkdir -p "$(dirname "$dest")"
        install -m "$3" "$1" "$dest"
        changed "installed $2"
    elif [ "$(stat -c '%a' "$dest")" != "${3#0}" ]; then
        chmod "$3" "$dest"
        changed "mode of $2 -> $3"
    fi
}

ensure_dir /etc/bodycam 0750 root "$SERVICE_USER"
if [ -n "$PROVISIONING_KEY" ]; then
    # One base64 line of a raw 32-byte Ed25519 key, # comments allowed (keygen's KEY.pub).
    key_line="$(grep -v '^[[:space:]]*\(#\|$\)' "$PROVISIONING_KEY" 2>/dev/null || true)"
    if [ "$(printf '%s\n' "$key_line" | grep -c .)" -ne 1 ] || \
       [ "$(printf '%s' "$key_line" | tr -d '[:space:]' | base64 -d 2>/dev/null | wc -c)" -ne 32 ]
    then
        die "--provisioning-key $PROVISIONING_KEY is not a provisioning public key (one base64 \
line of 32 bytes, as \`bodycam-provision keygen\` writes to KEY.pub)"
    fi
    ensure_file "$PROVISIONING_KEY" /etc/bodycam/provisioning-key.pub 0644
fi
ensure_dir /var/lib/bodycam 0700 "$SERVICE_USER" "$SERVICE_USER"
ensure_dir "$PREFIX" 0755 root root
ensure_file "$SRC/docs/technician.md" /usr/share/doc/bodycam/technician.md 0644

# ------------------------------------------------------------------ virtual environment
if [ ! -x "$(r "$VENV/bin/python")" ]; then
    python3 -m venv --system-site-packages --without-pip "$(r "$VENV")"
    changed "created virtual environment $VENV (with system site packages)"
fi
source_hash() {
    (cd "$SRC" && find pyproject.toml hal firmware tools config -type f \
        \( -name '*.py' -o -name '*.toml' -o -name '*.txt' -o -name py.typed \) \
        -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum \
        | cut -d' ' -f1)
}
STAMP="$(r "$VENV/.bodycam-source-sha256")"
want_hash="$(source_hash)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want_hash" ]; then
    constraints="$(mktemp)"
    trap 'rm -f "$constraints"' EXIT
    echo "$PIP_CONSTRAINTS" > "$constraints"
    pip --python "$(r "$VENV/bin/python")" install --quiet --constraint "$constraints" \
        "${SRC}[pi,tpm]"
    echo "$want_hash" > "$STAMP"
    changed "installed the firmware into $VENV (source $want_hash)"
fi

# ------------------------------------------------------------------ systemd units
units_changed=0
for unit in "$SRC"/systemd/*.service "$SRC"/systemd/*.path; do
    before=$CHANGES
    ensure_file "$unit" "$UNIT_DIR/$(basename "$unit")" 0644
    [ "$CHANGES" -eq "$before" ] || units_changed=1
done
if [ "$units_changed" -eq 1 ] && [ "$FAKE_ROOT" -eq 0 ]; then
    systemctl daemon-reload
fi
for unit in "${ENABLE_UNITS[@]}"; do
    if ! systemctl "${ROOT_OPT[@]}" is-enabled --quiet "$unit" 2>/dev/null; then
        systemctl "${ROOT_OPT[@]}" enable --quiet "$unit"
        changed "enabled $unit"
    fi
done

# ------------------------------------------------------------------ SPI and I2C
reboot_needed=0
config_changes="$(python3 "$SRC/tools/install/configtxt.py" "$(r /boot/firmware/config.txt)")" \
    || die "could not update /boot/firmware/config.txt (see above)"
while IFS= read -r line; do
    [ -n "$line" ] && { changed "$line"; reboot_needed=1; }
done <<< "$config_changes"
modules_conf="$(mktemp)"
# One module name a line: systemd-modules-load takes a trailing "# ..." as part of the name.
cat > "$modules_conf" <<'MODULES'
# bodycam (tools/install/install.sh)
# /dev/i2c-N for the battery gauge
i2c-dev
# the USB port's controller in gadget mode (config.txt dtoverlay=dwc2,dr_mode=peripheral)
dwc2
# USB gadget Ethernet on it: usb0, the dock link
g_ether
MODULES
before=$CHANGES
ensure_file "$modules_conf" /etc/modules-load.d/bodycam.conf 0644
rm -f "$modules_conf"
[ "$CHANGES" -eq "$before" ] || reboot_needed=1

# ------------------------------------------------------------------ the dock link
# usb0 takes its address from the dock (DHCP / IPv6 router advertisements); NetworkManager
# reads only keyfiles owned by root with mode 0600. The camera listens on no port: the
# mDNS responder (avahi), which Raspberry Pi OS starts, would answer on the dock network.
ensure_file "$SRC/tools/install/bodycam-dock-usb0.nmconnection" \
    /etc/NetworkManager/system-connections/bodycam-dock-usb0.nmconnection 0600
mask_units "the camera listens on no port of the dock network" \
    avahi-daemon.service avahi-daemon.socket

# ------------------------------------------------------------------ swap and core files
harden_memory

# ------------------------------------------------------------------ self-test
# Before provisioning there is no device file: an empty one means the shipped defaults,
# and the recipients/device-key parts are reported as pending (tools/install/selftest.py).
if [ "$SKIP_SELFTEST" -eq 0 ]; then
    echo "running the self-test (bodycam selftest) as $SERVICE_USER ..."
    selftest=("$VENV/bin/bodycam" selftest)
    judge=()
    if [ ! -f "$(r /etc/bodycam/bodycam.toml)" ]; then
        selftest+=(--config /dev/null)
        judge+=(--unprovisioned)
    fi
    was_running=0
    if [ "$FAKE_ROOT" -eq 1 ]; then
        selftest[0]="$(r "${selftest[0]}")"
    else
        selftest=(runuser -u "$SERVICE_USER" -- "${selftest[@]}")
        # The running camera program holds the camera and GPIO lines: pause it.
        if systemctl is-active --quiet bodycam.service; then
            was_running=1
            systemctl stop bodycam.service
        fi
    fi
    selftest_ok=1
    python3 "$SRC/tools/install/selftest.py" "${judge[@]}" -- "${selftest[@]}" || selftest_ok=0
    [ "$was_running" -eq 0 ] || systemctl start bodycam.service
    [ "$selftest_ok" -eq 1 ] || die "the self-test failed: fix the parts marked FAIL (wiring
table in /usr/share/doc/bodycam/technician.md), then run this installer again"
fi

# ------------------------------------------------------------------ lock the camera
# Only after a passing self-test: until then the technician can still log in to fix it.
warn_device_key
if [ "$KEEP_SSH" -eq 1 ]; then
    keep_ssh_with_own_host_keys
else
    lock_logins
fi
forget_clone_ids

if [ "$CHANGES" -eq 0 ]; then
    echo "nothing changed"
    exit 0
fi
echo "$CHANGES change(s)."
development_warning
if [ "$FAKE_ROOT" -eq 1 ]; then
    echo "The tree is ready; its first boot makes the machine-id, host keys and device key."
elif [ "$KEEP_SSH" -eq 1 ]; then
    [ "$reboot_needed" -eq 0 ] || echo "Reboot to switch on SPI/I2C: sudo reboot"
else
    # Nobody can log in (or sudo) any more, so the installer ends the session itself.
    # Power off rather than reboot: the card can be copied as a master image before its
    # first boot makes a device key; powered on again, it is a camera.
    echo "The camera is locked (no login, no ssh). Powering off now: copy the card for a" \
         "master image, or power it on to use the camera."
    sync
    systemctl poweroff
fi
