# Sourced by the bench scripts: `nginx_conf DIR WORKERS SERVER...` prints the nginx.conf they
# benchmark against — WORKERS worker processes, pid, logs and every temporary path in DIR (so
# nginx needs no write access elsewhere), no access log, keep-alive without limit, JSON by
# default, and one `server { … }` block per SERVER argument.
nginx_conf() {
  local dir=$1 workers=$2
  shift 2
  cat <<NGINX
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/json;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
$(printf '  %s\n' "$@")
}
NGINX
}
