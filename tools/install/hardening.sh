# shellcheck shell=bash
# Operating-system hardening for tools/install/install.sh (sourced by it; uses its r, changed,
# die, ROOT_OPT, UNIT_DIR, FAKE_ROOT). Issue 9, findings M4 and M5:
#
#   harden_memory      no swap on the card and no core files: the camera program holds
#                      plaintext media in RAM (pre-record ring, encryptor buffers)
#   lock_logins        nobody logs in to a camera in service: every human account and
#                      root's password locked, sudo rights gone, no autologin, ssh masked
#   forget_clone_ids   what a copied card must not share with its master: ssh host keys,
#                      machine-id, the random seed, stored Wi-Fi passwords
#
# Each step checks the target tree first and reports only what it changed, so a second
# run prints nothing. Account changes use the distribution's usermod (`--prefix` for a
# tree other than /), never hand-edited shadow files.

NOLOGIN=/usr/sbin/nologin
# Raspberry Pi OS enables these; a masked unit cannot be started or re-enabled (also not
# by Raspberry Pi OS's sshswitch, which turns ssh on when a file `ssh` is put on the
# boot partition, nor by `systemctl preset-all`).
SSH_UNITS=(ssh.service ssh.socket sshswitch.service)
SWAP_UNITS=(dphys-swapfile.service)
SYSCTL_FILE=/etc/sysctl.d/99-bodycam-no-coredump.conf
COREDUMP_DROPIN=/etc/systemd/coredump.conf.d/bodycam.conf
SSH_KEYGEN_DROPIN=/etc/systemd/system/ssh.service.d/bodycam-host-keys.conf

# ensure_content DEST MODE: install standard input as DEST (reports a change).
ensure_content() {
    local tmp
    tmp="$(mktemp)"
    cat > "$tmp"
    ensure_file "$tmp" "$1" "$2"
    rm -f "$tmp"
}

is_masked() { [ "$(readlink "$(r "$UNIT_DIR/$1")")" = /dev/null ]; }

# mask_units WHY UNIT...: mask (and first disable) each unit not masked yet.
mask_units() {
    local why="$1" unit
    shift
    for unit in "$@"; do
        is_masked "$unit" && continue
        systemctl "${ROOT_OPT[@]}" disable --quiet "$unit" 2>/dev/null || true
        systemctl "${ROOT_OPT[@]}" mask --quiet "$unit"
        changed "masked $unit ($why)"
    done
}

# ------------------------------------------------------------------ M4: swap, core files
harden_memory() {
    mask_units "no swap on the SD card" "${SWAP_UNITS[@]}"
    local swapfile=/var/swap conf
    conf="$(r /etc/dphys-swapfile)"
    if [ -f "$conf" ]; then
        swapfile="$(sed -n 's/^[[:space:]]*CONF_SWAPFILE=//p' "$conf" | tail -n 1)"
        swapfile="${swapfile:-/var/swap}"
    fi
    if [ "$FAKE_ROOT" -eq 0 ] && [ "$(wc -l < /proc/swaps)" -gt 1 ]; then
        swapoff -a
        changed "switched swap off"
    fi
    if [ -f "$(r "$swapfile")" ]; then
        rm -f "$(r "$swapfile")"
        changed "removed the swap file $swapfile"
    fi
    local fstab
    fstab="$(r /etc/fstab)"
    if [ -f "$fstab" ] && awk '!/^[[:space:]]*#/ && $3 == "swap" {found=1} END {exit !found}' "$fstab"; then
        awk '!/^[[:space:]]*#/ && $3 == "swap" {print "# bodycam: no swap on the card (plaintext media): " $0; next} {print}' \
            "$fstab" > "$fstab.bodycam" && cat "$fstab.bodycam" > "$fstab" && rm -f "$fstab.bodycam"
        changed "commented out the swap lines of /etc/fstab"
    fi

    local before=$CHANGES
    ensure_content "$SYSCTL_FILE" 0644 <<'EOF'
# bodycam (tools/install/install.sh): no process on the camera writes a core file. The camera
# program's memory holds plaintext media; it also makes itself non-dumpable, and with
# suid_dumpable=0 the kernel never dumps a non-dumpable process, not even to a pipe.
# Sorted after systemd-coredump's 50-coredump.conf, so it wins if that is installed.
kernel.core_pattern=|/bin/false
fs.suid_dumpable=0
EOF
    if [ "$CHANGES" -ne "$before" ] && [ "$FAKE_ROOT" -eq 0 ]; then
        sysctl --quiet --load "$SYSCTL_FILE"
    fi
    ensure_content "$COREDUMP_DROPIN" 0644 <<'EOF'
# bodycam (tools/install/install.sh): should systemd-coredump ever be installed, it keeps nothing.
[Coredump]
Storage=none
ProcessSizeMax=0
EOF
}

# ------------------------------------------------------------------ M5: logins
# The accounts people log in with: UID_MIN..UID_MAX of login.defs (the Raspberry Pi
# Imager user is the first of them), plus the user who ran sudo.
human_accounts() {
    local defs uid_min="" uid_max=""
    defs="$(r /etc/login.defs)"
    if [ -f "$defs" ]; then
        uid_min="$(awk '$1 == "UID_MIN" {print $2}' "$defs")"
        uid_max="$(awk '$1 == "UID_MAX" {print $2}' "$defs")"
    fi
    awk -F: -v lo="${uid_min:-1000}" -v hi="${uid_max:-60000}" -v extra="${SUDO_USER:-}" \
        '($3 >= lo && $3 <= hi) || ($1 == extra && $3 != 0) {print $1}' "$(r /etc/passwd)"
}
shadow_field() { awk -F: -v n="$1" -v f="$2" '$1 == n {print $f}' "$(r /etc/shadow)"; }
passwd_field() { awk -F: -v n="$1" -v f="$2" '$1 == n {print $f}' "$(r /etc/passwd)"; }
# A password field that cannot log in: starts with ! or * and holds no hash.
password_locked() { case "$1" in '!'|'*'|'!*'|'*!') return 0 ;; *) return 1 ;; esac; }
# usermod edits the files of the target tree (no chroot) when it is not /.
usermod_in_target() {
    if [ "$FAKE_ROOT" -eq 1 ]; then usermod --prefix "$ROOT" "$@"; else usermod "$@"; fi
}

lock_account() {
    local user="$1"
    if ! password_locked "$(shadow_field "$user" 2)" || [ "$(shadow_field "$user" 8)" != 1 ] \
        || [ "$(passwd_field "$user" 7)" != "$NOLOGIN" ]; then
        # '!' replaces the hash (a locked copy would still carry it, and every cloned
        # card the same one); expiry also stops key-based and PAM logins.
        usermod_in_target --password '!' --expiredate 1 --shell "$NOLOGIN" "$user" \
            || die "could not lock the account $user (usermod failed; run as root)"
        changed "locked the login account $user (password removed, expired, shell $NOLOGIN)"
    fi
    if in_group sudo "$user"; then
        usermod_in_target --remove --groups sudo "$user" \
            || die "could not remove $user from the group sudo"
        changed "removed $user from the group sudo"
    fi
    local rule
    for rule in "$(r /etc/sudoers.d)"/*; do
        [ -f "$rule" ] || continue
        if grep -Eq "^[[:space:]]*${user}[[:space:]]" "$rule"; then
            rm -f "$rule"
            changed "removed /etc/sudoers.d/$(basename "$rule") (sudo rule for $user)"
        fi
    done
}

lock_logins() {
    local users user
    users="$(human_accounts)" || die "could not read the accounts of /etc/passwd"
    for user in $users; do
        lock_account "$user"
    done
    if ! password_locked "$(shadow_field root 2)"; then
        usermod_in_target --password '!' root || die "could not lock root's password"
        changed "locked root's password"
    fi
    # usermod keeps the previous file as shadow-: that copy still holds the old hashes.
    if [ -f "$(r /etc/shadow-)" ] && ! cmp -s "$(r /etc/shadow)" "$(r /etc/shadow-)"; then
        cp -p "$(r /etc/shadow)" "$(r /etc/shadow-)"
        changed "replaced the backup /etc/shadow- (it held the old password hashes)"
    fi
    local dropin
    for dropin in "$(r "$UNIT_DIR")"/getty@*.service.d/*.conf \
                  "$(r "$UNIT_DIR")"/serial-getty@*.service.d/*.conf; do
        if [ ! -f "$dropin" ] || ! grep -q -- '--autologin' "$dropin"; then
            continue
        fi
        rm -f "$dropin"
        changed "removed the console autologin ${dropin#"${ROOT%/}"}"
    done
    mask_units "no remote login on a camera" "${SSH_UNITS[@]}"
}

# ------------------------------------------------------------------ M5: per-camera ids
forget_clone_ids() {
    local key
    for key in "$(r /etc/ssh)"/ssh_host_*; do
        [ -e "$key" ] || continue
        rm -f "$key"
        changed "removed the ssh host key /etc/ssh/$(basename "$key")"
    done
    # Empty, not missing: systemd makes a new id at the next boot without treating it
    # as a first boot (which would apply the presets and could re-enable units).
    local machine_id
    machine_id="$(r /etc/machine-id)"
    if [ ! -f "$machine_id" ] || [ -s "$machine_id" ]; then
        : > "$machine_id"
        chmod 0444 "$machine_id"
        changed "emptied /etc/machine-id (a new one is made at the next boot)"
    fi
    # systemd falls back to D-Bus's copy when /etc/machine-id is empty: it must not be
    # a file of its own.
    local dbus_id
    dbus_id="$(r /var/lib/dbus/machine-id)"
    if [ -f "$dbus_id" ] && [ ! -L "$dbus_id" ]; then
        rm -f "$dbus_id"
        ln -s /etc/machine-id "$dbus_id"
        changed "replaced /var/lib/dbus/machine-id by a link to /etc/machine-id"
    fi
    # Mixed in at boot without being credited, so a shared one costs little; gone from
    # images built with --root (a live install's power-off saves a fresh one).
    if [ -f "$(r /var/lib/systemd/random-seed)" ]; then
        rm -f "$(r /var/lib/systemd/random-seed)"
        changed "removed /var/lib/systemd/random-seed (each camera seeds its own)"
    fi
    # Raspberry Pi Imager's first-boot files hold the user's password hash and the Wi-Fi
    # password; the first boot normally deletes them.
    local leftover
    for leftover in firstrun.sh custom.toml userconf.txt userconf wpa_supplicant.conf; do
        [ -f "$(r "/boot/firmware/$leftover")" ] || continue
        rm -f "$(r "/boot/firmware/$leftover")"
        changed "removed /boot/firmware/$leftover (Imager's settings: password hash, Wi-Fi password)"
    done
    [ "$KEEP_WIFI" -eq 1 ] && return 0
    local profile
    for profile in "$(r /etc/NetworkManager/system-connections)"/*; do
        [ -f "$profile" ] || continue
        grep -Eq '^[[:space:]]*type[[:space:]]*=[[:space:]]*(wifi|802-11-wireless)[[:space:]]*$' \
            "$profile" || continue
        rm -f "$profile"
        changed "removed the Wi-Fi profile $(basename "$profile") (it stores the network's password)"
    done
}

# --keep-ssh: development images only. Host keys are still removed (clones must not
# share them); ssh makes new ones when it starts.
keep_ssh_with_own_host_keys() {
    ensure_content "$SSH_KEYGEN_DROPIN" 0644 <<'EOF'
# bodycam (tools/install/install.sh --keep-ssh): the installer removes the host keys so that
# copies of a card never share them; each camera makes its own before sshd starts.
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
}

# A device key on the card makes it no master image: every copy would sign as one camera.
warn_device_key() {
    local state
    state="$(r /var/lib/bodycam/state)"
    if [ -d "$state" ] && [ -n "$(ls -A "$state" 2>/dev/null)" ]; then
        echo "note: this card already holds a device key (/var/lib/bodycam/state):" \
             "do not copy it as a master image" >&2
    fi
}
