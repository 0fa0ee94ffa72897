# What the deploy commands set with -var (see infra/README.md); every other value is in main.tf.
variable "dbt_image_tag" {
  description = "The dbt image tag pushed to this environment's ECR repository (e.g. the git commit)."
  type        = string
}

variable "success_subscribers" {
  type    = list(string)
  default = []
}

variable "failure_subscribers" {
  type    = list(string)
  default = []
}
