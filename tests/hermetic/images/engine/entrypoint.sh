#!/bin/sh
# Starts one kind of test engine (dind, podman, ssh) in a container run without --privileged
# (which fails on these machines): the container gets every capability but SYS_RESOURCE, no
# seccomp/AppArmor profile and unmasked /proc and /sys paths, yet /sys and the cgroup
# hierarchies are still mounted read-only, and an engine cannot make a container's cgroups on
# them. Remount them read-write first; the cgroup mounts are busy (a plain remount says so), a
# bind remount changes only this mount's flag.
set -eu
mount -o remount,rw /sys
for d in /sys/fs/cgroup/*; do
  if mountpoint -q "$d"; then mount -o remount,bind,rw "$d"; fi
done

kind=${1:-dind}
case "$kind" in
  dind)
    # --tls=false: on plain tcp without it dockerd waits 15 s on purpose before it serves.
    # --userland-proxy=false: published ports are reached through iptables only, so no proxy
    # process per port and no outgoing connection from this network namespace takes a port
    # of the published range (its ephemeral range is that range, see engines.py).
    exec dockerd -H tcp://0.0.0.0:2375 -H unix:///var/run/docker.sock --tls=false --userland-proxy=false
    ;;
  ssh)
    # Tests reach it over ssh only (DOCKER_HOST=ssh://root@...): the docker CLI there runs
    # `docker system dial-stdio` against the unix socket. The harness adds its key to
    # /root/.ssh/authorized_keys with `docker exec`, and loads images over tcp on this
    # container's own address (not published on the host): streaming them through ssh or
    # `docker exec` takes several times as long.
    mkdir -p /run/sshd /root/.ssh
    chmod 700 /root/.ssh
    ssh-keygen -A >/dev/null
    /usr/sbin/sshd -e
    exec dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2375 --tls=false --userland-proxy=false
    ;;
  podman)
    exec podman system service --time=0 tcp:0.0.0.0:8888
    ;;
  *)
    echo "devenv-test-engine: unknown kind '$kind' (dind, podman or ssh)" >&2
    exit 2
    ;;
esac
