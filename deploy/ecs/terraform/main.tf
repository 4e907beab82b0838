# ECS on EC2 with an S3 bucket mounted on every container instance by
# bucketfs, bind-mounted into tasks: the pattern of docs/ECS.md.
#
#   terraform init && terraform apply -var bucket_name=my-bucket \
#     -var bucketfs_url=https://example.com/bucketfs-linux-amd64 \
#     -var subnet_ids='["subnet-0123"]'
#
# Not validated where bucketfs is developed (no Terraform there): review it
# against your provider version.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}
variable "bucket_name" {
  type        = string
  description = "Existing bucket to mount"
}
variable "bucketfs_url" {
  type        = string
  description = "HTTPS URL of the bucketfs linux binary for the instances' architecture"
}
variable "subnet_ids" {
  type = list(string)
}
variable "cluster_name" {
  type    = string
  default = "bucketfs-demo"
}
variable "instance_type" {
  type    = string
  default = "t3.medium"
}
variable "mount_point" {
  type    = string
  default = "/mnt/s3/data"
}

provider "aws" {
  region = var.region
}

data "aws_ssm_parameter" "ecs_ami" {
  name = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
}

resource "aws_ecs_cluster" "this" {
  name = var.cluster_name
}

# The instance role: the ECS agent's managed policy plus the bucket policy
# of iam-policy.json (bucketfs on the host uses the instance role).
resource "aws_iam_role" "instance" {
  name = "${var.cluster_name}-instance"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "ecs_agent" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_role_policy" "bucket" {
  name   = "bucketfs-${var.bucket_name}"
  role   = aws_iam_role.instance.id
  policy = replace(file("${path.module}/../iam-policy.json"), "amzn-s3-demo-bucket", var.bucket_name)
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.cluster_name}-instance"
  role = aws_iam_role.instance.name
}

resource "aws_launch_template" "instance" {
  name_prefix   = "${var.cluster_name}-"
  image_id      = data.aws_ssm_parameter.ecs_ami.value
  instance_type = var.instance_type
  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 2 # containers in bridge mode reach IMDS one hop further
  }
  user_data = base64encode(templatefile("${path.module}/../user-data.sh", {
    cluster_name = var.cluster_name
    bucket_name  = var.bucket_name
    region       = var.region
    mount_point  = var.mount_point
    bucketfs_url = var.bucketfs_url
    systemd_unit = file("${path.module}/../../systemd/bucketfs@.service")
  }))
}

resource "aws_autoscaling_group" "instances" {
  name_prefix         = "${var.cluster_name}-"
  min_size            = 1
  max_size            = 2
  desired_capacity    = 1
  vpc_zone_identifier = var.subnet_ids
  launch_template {
    id      = aws_launch_template.instance.id
    version = "$Latest"
  }
}

# The task definition of task-definition.json: the host's mount point as a
# host volume, bind-mounted at /data.
resource "aws_ecs_task_definition" "reader" {
  family                   = "s3-data-reader"
  requires_compatibilities = ["EC2"]
  network_mode             = "bridge"
  container_definitions = jsonencode([{
    name      = "app"
    image     = "public.ecr.aws/docker/library/busybox:stable"
    essential = true
    memory    = 128
    command   = ["/bin/sh", "-c", "ls -l /data; tail -f /dev/null"]
    mountPoints = [{
      sourceVolume  = "s3-data"
      containerPath = "/data"
      readOnly      = false
    }]
  }])
  volume {
    name      = "s3-data"
    host_path = var.mount_point
  }
}

resource "aws_ecs_service" "reader" {
  name            = "s3-data-reader"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.reader.arn
  desired_count   = 1
  launch_type     = "EC2"
}
