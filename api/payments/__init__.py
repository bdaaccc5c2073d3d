"""The payments API (DRF): paying and cancelling orders, Razorpay callback verification."""
