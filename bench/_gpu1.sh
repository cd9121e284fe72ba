nvidia-smi --query-gpu=name --format=csv,noheader
python bench/kv_decode_order_gpu.py 2>&1 | grep -v Warn | tail -90
for cv in "auto default" "fp8 default" "fp8 hf+lf" "auto hf+lf" "fp8 lf"; do set -- $cv; python bench/kv_order_workload_gpu.py --caches $1 --variants $2 2>&1 | grep "^this"; done
