"""The network the GPU instances run in: the operator's VPC, or a new one.

Invariants:

- A new VPC has public subnets only and no NAT gateway (nothing billed while idle): instances get
  a public IP and a security group with no inbound rule (the compute environments create it), and
  reach S3 and DynamoDB through free gateway endpoints. Its rejected traffic is logged to the
  access-log bucket (``vpc-flow-logs/``).
- An existing VPC is used as given, in its private subnets with egress unless subnets are named.
- The new VPC is this construct's default child (id ``Default``): CDK leaves that id out of
  logical ids, so with this construct's id ``Vpc`` the VPC's resources keep the logical ids they
  had before the construct existed (a new id would replace the VPC, and with it the subnets the
  compute environments run in).
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct


class Network(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc | None,
        vpc_subnets: ec2.SubnetSelection | None,
        max_azs: int,
        flow_logs_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, id)
        self.vpc: ec2.IVpc
        self.subnets: ec2.SubnetSelection
        if vpc is not None:
            self.vpc = vpc
            self.subnets = vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            return
        new_vpc = ec2.Vpc(
            self,
            "Default",
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=20)
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
            restrict_default_security_group=True,
        )
        new_vpc.add_flow_log(
            "RejectedTraffic",
            destination=ec2.FlowLogDestination.to_s3(flow_logs_bucket, "vpc-flow-logs/"),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.vpc = new_vpc
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
