"""changeFeedCursor: where the tenant's change feed stands, to subscribe from without a gap."""

import strawberry

from resolvers.context import Info
from resolvers.permissions import VIEWER


@strawberry.type
class FeedQuery:
    @strawberry.field(description="Where your tenant's change feed stands now. Read it before you read what you show, "
                                  "then subscribe with changes(after: it): every change since reaches you, none twice.",
                      permission_classes=VIEWER)
    async def change_feed_cursor(self, info: Info) -> str:
        return str(await info.context.services.subscriptions.cursor(info.context.tenant))
