"""What a reminder email offers: the cart's lines that can still be bought.

A line whose product is no longer sold or is out of stock is left out, and out of the
total; the mailer skips a reminder that has nothing left to offer.
"""

from __future__ import annotations

import dataclasses

from cart.selectors import CartSummary, cart_total


def reminder_offer(*, summary: CartSummary) -> CartSummary:
    """``summary`` with only the lines in stock and on sale, and their total."""
    lines = [line for line in summary.lines if line.product.active and line.product.stock > 0]
    return dataclasses.replace(
        summary,
        lines=lines,
        item_count=sum(line.quantity for line in lines),
        total=cart_total(lines=lines),
    )
