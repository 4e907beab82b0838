#!/bin/bash
# EC2 user data for an ECS container instance (ECS-optimized Amazon Linux
# 2023) that mounts an S3 bucket on the host before the ECS agent starts, so
# that tasks can bind-mount it (task-definition.json: volumes[].host.sourcePath).
#
# This file is a Terraform template: terraform/main.tf fills in the quoted
# placeholders below and the systemd unit. By hand, replace them yourself.
set -euo pipefail

CLUSTER='${cluster_name}'
BUCKET='${bucket_name}'
REGION='${region}'
MOUNT_POINT='${mount_point}'
BUCKETFS_URL='${bucketfs_url}' # where your bucketfs linux binary is published

echo "ECS_CLUSTER=$CLUSTER" >> /etc/ecs/ecs.config

# FUSE userspace tools (fusermount3) and the bucketfs binary, also as the
# mount(8) helper.
dnf install -y fuse3
curl -fsSL -o /usr/local/bin/bucketfs "$BUCKETFS_URL"
chmod 0755 /usr/local/bin/bucketfs
ln -sf /usr/local/bin/bucketfs /sbin/mount.bucketfs

# The mount, as a service ordered before Docker and the ECS agent.
mkdir -p /etc/bucketfs "$MOUNT_POINT"
cat > /etc/bucketfs/data.env <<EOT
BUCKET=$BUCKET
MOUNT_POINT=$MOUNT_POINT
BUCKETFS_OPTIONS=--region $REGION --allow-other --allow-delete
EOT
# deploy/systemd/bucketfs@.service, inserted by Terraform (by hand: paste it).
cat > /etc/systemd/system/bucketfs@.service <<'UNIT'
${systemd_unit}
UNIT
systemctl daemon-reload
# Mounted before this script ends: the ECS agent starts after user data, and
# a failed mount shows in /var/log/cloud-init-output.log.
systemctl enable --now bucketfs@data.service
