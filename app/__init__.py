"""Order Execution Engine: routes token swaps to the best simulated Solana DEX."""
