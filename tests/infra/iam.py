"""Reads the template's IAM roles as AWS would: may this role do that action on this resource?

Enough of IAM for the template's own policies: Allow statements, `*` wildcards in actions and
resources, StringEquals / StringLike conditions against a request context the test gives.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


class StackIam:
    def __init__(self, template: dict[str, Any], service_name: str) -> None:
        self.resources = template["Resources"]
        self.service_name = service_name

    def resolve(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            assert value["Ref"] == "ServiceName", value
            return self.service_name
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", value
            return self.arn(logical_id)
        if "Fn::Sub" in value:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._variable(m.group(1)), value["Fn::Sub"])
        raise AssertionError(f"cannot resolve {value!r}")

    def _variable(self, name: str) -> str:
        if name == "ServiceName":
            return self.service_name
        if name in PSEUDO:
            return PSEUDO[name]
        logical_id, _, attribute = name.partition(".")
        assert attribute == "Arn", name
        return self.arn(logical_id)

    def arn(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        properties = resource["Properties"]
        kind = resource["Type"]
        if kind == "AWS::DynamoDB::Table":
            return (
                f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.resolve(properties['TableName'])}"
            )
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.resolve(properties['QueueName'])}"
        if kind == "AWS::Events::EventBus":
            return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{self.resolve(properties['Name'])}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical_id.lower()}-0000"
        raise AssertionError(f"no ARN for {kind}")

    def statements(self, role: str) -> list[dict[str, Any]]:
        """The role's own statements and those of the stack's managed policies it attaches."""
        properties = self.resources[role]["Properties"]
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        for attached in properties.get("ManagedPolicyArns", []):
            assert set(attached) == {"Ref"}, "only the stack's own managed policies"
            documents.append(self.resources[attached["Ref"]]["Properties"]["PolicyDocument"])
        return [statement for document in documents for statement in document["Statement"]]

    def allows(
        self, role: str, action: str, resource: str, context: dict[str, str] | None = None
    ) -> bool:
        return any(
            statement["Effect"] == "Allow"
            and any(fnmatchcase(action.lower(), a.lower()) for a in _listed(statement["Action"]))
            and any(fnmatchcase(resource, self.resolve(r)) for r in _listed(statement["Resource"]))
            and self._satisfied(statement.get("Condition", {}), context or {})
            for statement in self.statements(role)
        )

    def _satisfied(self, condition: dict[str, Any], context: dict[str, str]) -> bool:
        for operator, tests in condition.items():
            for key, expected in tests.items():
                actual, wanted = context.get(key), self.resolve(expected)
                if actual is None:
                    return False
                if operator == "StringEquals" and actual != wanted:
                    return False
                if operator == "StringLike" and not fnmatchcase(actual, wanted):
                    return False
                if operator not in ("StringEquals", "StringLike"):
                    raise AssertionError(f"condition operator {operator} not understood")
        return True


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
